/*
 * node.h -- the SQL expression tree: every query, expression and DDL
 * statement argent builds is a tree of ag_node, compiled by compile.c.
 *
 * Design (why it looks like this):
 *  - One struct for every kind of node, told apart by `tag` (as LPeg's
 *    lptree.h does).  Each tag below names the fields it uses; the others
 *    are zero.  kids[] are the children, in the order the tag documents; a
 *    child may be NULL where the comment says "or NULL".
 *  - Nodes are reference counted and immutable once built (one exception:
 *    a COLUMN is created before it knows its table and name, and
 *    ag_node_column_attach fills them in, once, when the column joins its
 *    table).  A node holds one reference to each child, so a column node is
 *    shared by every expression that uses it.  There are no cycles: a table
 *    does not hold its columns (the Lua Table object does), a column holds
 *    its table.
 *  - Bound values are copied into BIND nodes (strings with their length:
 *    NUL bytes and 100 kB values are fine).  The compiler turns every BIND
 *    into a placeholder and records the node in the parameter list; the
 *    binding then reads the value straight from the node (no Lua lookup),
 *    or, for a BIND with a name and no value, from the parameters given at
 *    execution.  Values never reach the SQL text.
 *  - Compiled SQL is cached per dialect on the statement node (compile.h).
 *  - Nothing here includes Lua: the tree is built and compiled by plain C
 *    (the golden tests and the fuzzer drive it directly).
 *
 * Threads: a node belongs to one thread at a time (the counts are not atomic).
 */
#ifndef ARGENT_SQL_NODE_H
#define ARGENT_SQL_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/value.h"

/* these enums are laid out by hand, in groups */
/* clang-format off */
typedef enum ag_node_tag {
    AG_N_TABLE = 1,    /* name: the table's SQL name */
    AG_N_COLUMN,       /* name; kids[0] its table / alias / subquery, or NULL; kids[1] server default
                          (TEXT, BIND or FUNC), or NULL; type; flags AG_COL_*; name2: the key (Lua name);
                          in DDL, when there is a third: kids[2] the type as the database names it,
                          a CREATE_TYPE (a named enum: its name where the dialect has enum types)
                          or a TEXT (a declared type written as is), or NULL */
    AG_N_BIND,         /* value (owned copy) when AG_BIND_HAS_VALUE, else name: the parameter that
                          execution supplies; type: the value's type (conversions), or kind NONE */
    AG_N_KEYWORD,      /* op: AG_KW_* (NULL, TRUE, FALSE, *) */
    AG_N_TEXT,         /* name: SQL text, copied through untouched (argent.text, CheckConstraint) */
    AG_N_UNARY,        /* op: AG_OP_NOT, NEG, ASC, DESC, DISTINCT, EXISTS, IS_NULL, IS_NOT_NULL; kids[0] */
    AG_N_BINARY,       /* op: comparison, arithmetic, LIKE, IN...; kids[0] op kids[1] */
    AG_N_BOOLEAN,      /* op: AG_OP_AND or AG_OP_OR; kids: the terms (nkids >= 1) */
    AG_N_BETWEEN,      /* kids[0] BETWEEN kids[1] AND kids[2] */
    AG_N_LIST,         /* kids: the items (a parenthesised list in IN, or a slot of a statement) */
    AG_N_FUNC,         /* name: the function; kids: the arguments; type: result type when known */
    AG_N_LABEL,        /* name: the label; kids[0] AS name */
    AG_N_CAST,         /* type; CAST(kids[0] AS type) */
    AG_N_CASE,         /* kids: when1, then1, ..., whenN, thenN, else (or NULL): nkids is odd */
    AG_N_SUBQUERY,     /* name: the alias; kids[0] the SELECT or COMPOUND */
    AG_N_ALIAS,        /* name: the alias; kids[0] the TABLE */
    AG_N_JOIN,         /* op: AG_JOIN_INNER / LEFT / FULL; kids[0] left, kids[1] right, kids[2] ON */
    AG_N_SELECT,       /* kids: AG_SEL_* slots (LIST or expression, or NULL); flags AG_SEL_DISTINCT,
                          AG_SEL_FOR_UPDATE */
    AG_N_COMPOUND,     /* op: AG_COMPOUND_*; kids[0] LIST of SELECTs, kids[1] order_by LIST or NULL,
                          kids[2] limit, kids[3] offset (BIND or NULL) */
    AG_N_INSERT,       /* kids: AG_INS_* slots; op: AG_CONFLICT_* */
    AG_N_ASSIGN,       /* kids[0] COLUMN = kids[1] (UPDATE SET, ON CONFLICT SET) */
    AG_N_UPDATE,       /* kids[0] TABLE, kids[1] LIST of ASSIGN, kids[2] where or NULL, kids[3] returning
                          LIST or NULL */
    AG_N_DELETE,       /* kids[0] TABLE, kids[1] where or NULL, kids[2] returning LIST or NULL */
    AG_N_CREATE_TABLE, /* kids[0] TABLE, kids[1] LIST of COLUMNs, kids[2] LIST of CONSTRAINTs or NULL;
                          flags AG_DDL_IF_NOT_EXISTS */
    AG_N_DROP_TABLE,   /* kids[0] TABLE; flags AG_DDL_IF_EXISTS */
    AG_N_CONSTRAINT,   /* op: AG_CONS_*; name: its name or NULL; kids[0] LIST of COLUMNs;
                          FOREIGN_KEY: kids[1] the referenced TABLE, kids[2] LIST of its COLUMNs,
                          flags: ondelete | onupdate << 4 (AG_FK_*); CHECK: kids[3] TEXT */
    AG_N_CREATE_INDEX, /* name; kids[0] TABLE, kids[1] LIST of COLUMNs; flags AG_DDL_UNIQUE,
                          AG_DDL_IF_NOT_EXISTS */
    AG_N_DROP_INDEX,   /* name; kids[0] TABLE; flags AG_DDL_IF_EXISTS */
    AG_N_COMMENT,      /* kids[0] COLUMN (with its table), kids[1] BIND: the comment text (a DDL literal) */
    AG_N_ALTER_TABLE,  /* op: AG_ALTER_*; kids[0] TABLE; kids[1] the COLUMN or CONSTRAINT acted on, or
                          NULL; name: the new name (RENAME_TABLE, RENAME_COLUMN).  ALTER_COLUMN:
                          kids[1] is the column's whole new definition and flags AG_ALTER_SET_* say
                          which parts change; DROP_CONSTRAINT: a CONSTRAINT (name; op: kind or 0) */
    AG_N_CREATE_TYPE,  /* name: an enum type; kids[0] LIST of BINDs: its values (DDL literals) */
    AG_N_DROP_TYPE,    /* name; flags AG_DDL_IF_EXISTS */
    AG_N_ALTER_TYPE,   /* name: an enum type; kids[0] BIND: a value to add, kids[1] BIND: the one
                          it follows, or NULL */
    AG_N_TAG_COUNT
} ag_node_tag;

typedef enum ag_op {
    AG_OP_NONE = 0,
    /* binary */
    AG_OP_EQ, AG_OP_NE, AG_OP_LT, AG_OP_LE, AG_OP_GT, AG_OP_GE,
    AG_OP_LIKE, AG_OP_NOT_LIKE, AG_OP_ILIKE, AG_OP_NOT_ILIKE,
    AG_OP_IN, AG_OP_NOT_IN, AG_OP_IS, AG_OP_IS_NOT,
    AG_OP_ADD, AG_OP_SUB, AG_OP_MUL, AG_OP_DIV, AG_OP_MOD, AG_OP_CONCAT,
    /* boolean lists */
    AG_OP_AND, AG_OP_OR,
    /* unary */
    AG_OP_NOT, AG_OP_NEG, AG_OP_ASC, AG_OP_DESC, AG_OP_DISTINCT, AG_OP_EXISTS,
    AG_OP_IS_NULL, AG_OP_IS_NOT_NULL,
    AG_OP_COUNT
} ag_op;

enum { AG_KW_NULL = 1, AG_KW_TRUE, AG_KW_FALSE, AG_KW_STAR };
enum { AG_JOIN_INNER = 1, AG_JOIN_LEFT, AG_JOIN_FULL };
enum { AG_COMPOUND_UNION = 1, AG_COMPOUND_UNION_ALL, AG_COMPOUND_INTERSECT, AG_COMPOUND_EXCEPT };
enum { AG_CONFLICT_NONE = 0, AG_CONFLICT_NOTHING, AG_CONFLICT_UPDATE };
enum { AG_CONS_PRIMARY_KEY = 1, AG_CONS_UNIQUE, AG_CONS_CHECK, AG_CONS_FOREIGN_KEY };
enum {
    AG_ALTER_ADD_COLUMN = 1, AG_ALTER_DROP_COLUMN, AG_ALTER_RENAME_COLUMN, AG_ALTER_RENAME_TABLE,
    AG_ALTER_COLUMN, AG_ALTER_ADD_CONSTRAINT, AG_ALTER_DROP_CONSTRAINT
};
enum { AG_ALTER_SET_TYPE = 1, AG_ALTER_SET_NULLABLE = 2, AG_ALTER_SET_DEFAULT = 4 };
enum { AG_FK_NONE = 0, AG_FK_CASCADE, AG_FK_SET_NULL, AG_FK_SET_DEFAULT, AG_FK_RESTRICT, AG_FK_NO_ACTION };

/* SELECT slots */
enum {
    AG_SEL_COLUMNS = 0, /* LIST of expressions (at least one to compile) */
    AG_SEL_FROM,        /* LIST of from elements (TABLE, ALIAS, SUBQUERY, JOIN) given explicitly, or NULL */
    AG_SEL_WHERE,
    AG_SEL_GROUP_BY,    /* LIST or NULL */
    AG_SEL_HAVING,
    AG_SEL_ORDER_BY,    /* LIST or NULL */
    AG_SEL_LIMIT,       /* BIND or NULL */
    AG_SEL_OFFSET,      /* BIND or NULL */
    AG_SEL_NSLOTS
};

/* INSERT slots */
enum {
    AG_INS_TABLE = 0,    /* TABLE */
    AG_INS_COLUMNS,      /* LIST of COLUMNs (may be empty: DEFAULT VALUES) */
    AG_INS_ROWS,         /* LIST of LISTs of expressions, one per row, each as long as COLUMNS */
    AG_INS_RETURNING,    /* LIST or NULL */
    AG_INS_CONFLICT_ON,  /* LIST of COLUMNs or NULL (the conflict target) */
    AG_INS_CONFLICT_SET, /* LIST of ASSIGNs or NULL (DO UPDATE SET) */
    AG_INS_KEY,          /* the COLUMN whose generated value is the new row's id (lastrowid), or NULL:
                            dialects without last-insert-id add RETURNING it */
    AG_INS_NSLOTS
};

/* COMPOUND slots */
enum { AG_CMP_SELECTS = 0, AG_CMP_ORDER_BY, AG_CMP_LIMIT, AG_CMP_OFFSET, AG_CMP_NSLOTS };
/* UPDATE slots */
enum { AG_UPD_TABLE = 0, AG_UPD_SET, AG_UPD_WHERE, AG_UPD_RETURNING, AG_UPD_NSLOTS };
/* DELETE slots */
enum { AG_DEL_TABLE = 0, AG_DEL_WHERE, AG_DEL_RETURNING, AG_DEL_NSLOTS };

/* Column flags */
enum {
    AG_COL_PRIMARY_KEY = 1 << 0,
    AG_COL_NOT_NULL = 1 << 1,
    AG_COL_AUTOINCREMENT = 1 << 2,
    AG_COL_UNIQUE = 1 << 3,
};
enum { AG_BIND_HAS_VALUE = 1 };
enum { AG_SEL_DISTINCT = 1, AG_SEL_FOR_UPDATE = 2 };
enum { AG_DDL_IF_NOT_EXISTS = 1, AG_DDL_IF_EXISTS = 2, AG_DDL_UNIQUE = 4 };

/* argent's types, as the compiler (DDL, casts) and the bindings (conversions) see them. */
typedef enum ag_type_kind {
    AG_TYPE_NONE = 0, /* not known */
    AG_TYPE_INTEGER, AG_TYPE_BIGINT, AG_TYPE_SMALLINT,
    AG_TYPE_FLOAT, AG_TYPE_DOUBLE, AG_TYPE_NUMERIC,
    AG_TYPE_BOOLEAN,
    AG_TYPE_STRING, AG_TYPE_TEXT, AG_TYPE_ENUM,
    AG_TYPE_DATE, AG_TYPE_DATETIME, AG_TYPE_TIME,
    AG_TYPE_BINARY, AG_TYPE_JSON,
    AG_TYPE_COUNT
} ag_type_kind;
/* clang-format on */

typedef struct ag_sqltype {
    uint8_t kind;      /* ag_type_kind */
    uint8_t as_number; /* Numeric read back as a float */
    uint16_t scale;    /* Numeric */
    uint32_t length;   /* String(n), Enum (longest value), Numeric precision; 0 = none */
    uint8_t timezone;  /* DateTime{timezone = true}: an instant, stored as UTC */
} ag_sqltype;

typedef struct ag_compiled ag_compiled;
typedef struct ag_node ag_node;

struct ag_node {
    int refs;
    uint8_t tag; /* ag_node_tag */
    uint8_t op;  /* ag_op, AG_KW_*, AG_JOIN_*, ... as the tag says */
    uint16_t flags;
    int nkids;
    ag_node **kids;
    char *name; /* NUL-terminated copy (identifiers hold no NUL), or NULL */
    size_t name_len;
    char *name2;    /* COLUMN: the key, or NULL (same as name) */
    ag_value value; /* BIND: owned copy; text and blob bytes are malloc'd */
    ag_sqltype type;
    ag_compiled *cache[AG_DIALECT_COUNT];
};

/* Makes a node with nkids child slots (all NULL), one reference.  NULL when
 * memory runs out. */
ag_node *ag_node_new(ag_node_tag tag, int nkids);
ag_node *ag_node_retain(ag_node *n); /* NULL-safe; returns n */
void ag_node_release(ag_node *n);    /* NULL-safe; frees at zero, releasing children */

/* Sets kids[i] to kid (takes a new reference to kid; releases the old one). */
void ag_node_set_kid(ag_node *n, int i, ag_node *kid);
/* Copies name (len bytes) into n->name.  -1 when out of memory. */
int ag_node_set_name(ag_node *n, const char *name, size_t len);
/* Copies v (and its bytes) into n->value and sets AG_BIND_HAS_VALUE.  -1 out of memory. */
int ag_node_set_value(ag_node *n, const ag_value *v);

/* A shallow copy: same fields and children (each retained), no cache.  The
 * way generative methods (select:where) make their new statement. */
ag_node *ag_node_copy(const ag_node *n, int nkids);

/* Convenience constructors (NULL when out of memory; children retained). */
ag_node *ag_node_list(ag_node *const *items, int n);
ag_node *ag_node_bind(const ag_value *v, const ag_sqltype *type);
ag_node *ag_node_named(const char *name, const ag_sqltype *type);
ag_node *ag_node_binary(int op, ag_node *left, ag_node *right);
ag_node *ag_node_unary(int op, ag_node *operand);
ag_node *ag_node_table(const char *name);
ag_node *ag_node_column(const char *name, ag_node *table, const ag_sqltype *type, int flags);

/* Gives a column created without its table (and name) its table and name.
 * Once only: 0, or -1 when it has a table already or memory ran out. */
int ag_node_column_attach(ag_node *col, ag_node *table, const char *name, const char *key);

/* The result type of an expression, when the tree knows it (a column's type,
 * a label's or cast's, count() is an integer, a comparison a boolean). */
ag_sqltype ag_node_type_of(const ag_node *n);

/* "TABLE", "COLUMN", ... for messages and tests. */
const char *ag_node_tag_name(int tag);

#endif
