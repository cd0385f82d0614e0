"""The RPyC protocol settings shared by daemon and client, and the shape of replies.

No pickle, no attribute access beyond `exposed_*` methods, no tracebacks sent to the peer. Every
reply of the CLI's methods is a plain tuple: ("ok", payload) or ("error", exit_code, message) — a
query's own error is data, so the client never mistakes it for a broken connection. (The spec's
methods for other programs reply with one JSON text instead: daemon/spec_interface.py, ADR 0014.)
"""

PROTOCOL_CONFIG = {
    "allow_pickle": False,
    "allow_public_attrs": False,
    "allow_all_attrs": False,
    "allow_setattr": False,
    "allow_delattr": False,
    "allow_exposed_attrs": True,
    "instantiate_custom_exceptions": False,
    "import_custom_exceptions": False,
    "include_local_traceback": False,
    "include_local_version": False,
    "propagate_SystemExit_locally": False,
    "sync_request_timeout": 120,
}

PROTOCOL_VERSION = 3  # 3: the CLI calls cli_query/cli_index/cli_status; query, index... are the spec's (ADR 0014)
# 2: query parameters and results travel as plain tuples, not JSON strings
OK = "ok"
ERROR = "error"
