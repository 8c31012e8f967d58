/*
 * cancel.c -- argent_connection_cancel and argent_engine_cancel: the public
 * face of the core's cancel (src/engine/cancel.c), callable from any thread
 * while another runs the statement (see argent.h for the contract).
 */
#include "capi/capi.h"

int argent_connection_cancel(argent_connection *conn, argent_error *err) {
    if (!conn) return ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "argent_connection_cancel: conn is NULL");
    ag_error cerr;
    int rc = ag_conn_cancel(conn->conn, &cerr);
    return rc < 0 ? ag_capi_fail(err, &cerr) : rc;
}

int argent_engine_cancel(argent_engine *engine, argent_error *err) {
    if (!engine) return ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "argent_engine_cancel: engine is NULL");
    ag_error cerr;
    int rc = ag_engine_cancel(ag_capi_engine(engine), &cerr);
    return rc < 0 ? ag_capi_fail(err, &cerr) : rc;
}
