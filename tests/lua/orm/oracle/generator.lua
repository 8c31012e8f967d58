local generator = {}
function generator.sequences(seed, n) return {} end
return generator
