"""Schemathesis hooks for `fleetsim serve` (see docs/server.md, "Schemathesis").

The OpenAPI document states every rule that JSON Schema can state. These hooks supply the few
that it cannot, so that every request generated as valid really is:

- the query language (`format: iot-query`, `iot-query-condition`): a strategy that writes
  queries from its grammar (docs/query-language.md);
- two `data` entries never name the same `target` and `path`;
- a schedule does not end before it starts;
- the OData filters of IoT Central's device lists (`format: odata-filter`);
- a device or template list takes the filter, order and page size parameters of its
  api-version only (`$top`, `$filter`, `$orderby` in 1.1-preview and 1.2-preview;
  `maxpagesize`, `filter`, `orderby` from 2022-05-31 on; none in preview and 1.0);
- `/jobs/v2/{id}` never has the id `query` (that is the job query's own path).

Nothing here relaxes a check: a request that breaks one of these rules is one the document
calls invalid, and the server must refuse it (400), which the checks do not test as positive.
"""

import datetime
import json
import string

import schemathesis
from hypothesis import strategies as st

FIELDS = [
    "deviceId",
    "$id",
    "$template",
    "$provisioned",
    "$simulated",
    "status",
    "connectionState",
    "tags.firmware",
    "tags.site.name",
    "properties.desired.targetTemperature",
    "properties.reported.targetTemperature",
]


def _quoted(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


_constants = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.sampled_from(["true", "false", "null", "2.5", "'1.2'", '"dtmi:contoso:thermostat;1"']),
    st.text(string.ascii_letters + string.digits + " -_.", max_size=12).map(_quoted),
)
_fields = st.sampled_from(FIELDS)
_comparison = st.builds(
    lambda f, op, c: f"{f} {op} {c}",
    _fields,
    st.sampled_from(["=", "!=", "<>", "<", ">", "<=", ">="]),
    _constants,
)
_membership = st.builds(
    lambda f, op, cs: f"{f} {op} [{', '.join(cs)}]",
    _fields,
    st.sampled_from(["IN", "NIN"]),
    st.lists(_constants, min_size=1, max_size=3),
)
_defined = _fields.map(lambda f: f"IS_DEFINED({f})")
_atom = st.one_of(_comparison, _membership, _defined)
_condition = st.recursive(
    _atom,
    lambda inner: st.one_of(
        inner.map(lambda c: f"NOT {c}"),
        inner.map(lambda c: f"({c})"),
        st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(["AND", "OR"]), inner),
    ),
    max_leaves=4,
)
_query = st.builds(
    lambda top, where: f"SELECT {top}* FROM devices{where}",
    st.one_of(st.just(""), st.integers(1, 100).map(lambda n: f"TOP {n} ")),
    st.one_of(st.just(""), _condition.map(lambda c: f" WHERE {c}")),
)

_odata_fields = st.sampled_from(["id", "displayName", "template", "enabled", "provisioned", "simulated"])
_odata_literal = st.one_of(
    st.sampled_from(["true", "false", "null", "3", "'therm-01'", "'dtmi:contoso:thermostat;1'"]),
    st.text(string.ascii_letters + string.digits + "-", max_size=8).map(lambda t: f"'{t}'"),
)
_odata_atom = st.one_of(
    st.builds(
        lambda f, op, v: f"{f} {op} {v}",
        _odata_fields,
        st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]),
        _odata_literal,
    ),
    st.builds(
        lambda fn, f, t: f"{fn}({f}, '{t}')",
        st.sampled_from(["contains", "startswith", "endswith"]),
        _odata_fields,
        st.text(string.ascii_letters + string.digits + "-", max_size=6),
    ),
)
_odata = st.recursive(
    _odata_atom,
    lambda inner: st.one_of(
        inner.map(lambda c: f"not ({c})"),
        inner.map(lambda c: f"({c})"),
        st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(["and", "or"]), inner),
    ),
    max_leaves=3,
)

schemathesis.openapi.format("odata-filter", _odata)
schemathesis.openapi.format("iot-query", _query)
schemathesis.openapi.format("iot-query-condition", st.one_of(st.just("*"), _condition))


def _start_date(start):
    try:
        return datetime.datetime.fromisoformat(start.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def _fix_schedule(schedule):
    """An end that may be before the start becomes the start itself (a date-time end equal to
    the start is never before it)."""
    end = schedule.get("end")
    start = schedule.get("start")
    if not isinstance(end, dict) or end.get("type") != "date" or not isinstance(start, str):
        return
    begin, date = _start_date(start), end.get("date")
    if begin is None or not isinstance(date, str):
        return
    if "T" in date or "t" in date:
        parsed = _start_date(date)
        early = parsed is None or parsed < begin
    else:
        # The server refuses a date before the start's date in UTC-12; the UTC date is later
        # or the same, so comparing with it is on the safe side.
        early = date < begin.astimezone(datetime.timezone.utc).date().isoformat() if begin.year > 1 else True
    if early:
        end["date"] = start


def _dedupe(data):
    if not isinstance(data, list):
        return data
    seen, out = set(), []
    for entry in data:
        if not isinstance(entry, dict) or "path" not in entry:
            out.append(entry)
            continue
        key = json.dumps([entry.get("target"), entry["path"]], sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        out.append(entry)
    return out


@schemathesis.hook
def filter_case(context, case):
    """`/jobs/v2/query` is the job query's own path: by OpenAPI's path matching a concrete path
    wins over a templated one, so `/jobs/v2/{id}` never has the id `query`."""
    if case.path.startswith("/jobs/v2/{id}"):
        return (case.path_parameters or {}).get("id") != "query"
    return True


_LIST_PARAMS = {"$top", "$filter", "$orderby", "maxpagesize", "filter", "orderby"}
_ODATA_VERSIONS = {"1.1-preview", "1.2-preview"}
_NO_PARAMS_VERSIONS = {"preview", "1.0"}


def _list_params_of_version(case):
    """Drops the list parameters that the request's api-version does not take."""
    query = case.query
    if not isinstance(query, dict) or not case.path.startswith(("/api/devices", "/api/deviceTemplates")):
        return
    version = query.get("api-version")
    if not isinstance(version, str):
        return
    if version in _NO_PARAMS_VERSIONS:
        allowed = set()
    elif version in _ODATA_VERSIONS:
        allowed = {"$top", "$filter", "$orderby"}
    else:
        allowed = {"maxpagesize", "filter", "orderby"}
    for name in _LIST_PARAMS - allowed:
        query.pop(name, None)


@schemathesis.hook
def map_case(context, case):
    _list_params_of_version(case)
    body = case.body
    if isinstance(body, dict):
        if "data" in body:
            body["data"] = _dedupe(body["data"])
        if isinstance(body.get("schedule"), dict):
            _fix_schedule(body["schedule"])
    return case
