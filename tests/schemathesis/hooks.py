"""Schemathesis hooks for `fleetsim serve` (see docs/server.md, "Schemathesis").

The OpenAPI document states every rule that JSON Schema can state. These hooks supply the few
that it cannot, so that every request generated as valid really is:

- the query language (`format: iot-query`, `iot-query-condition`): a strategy that writes
  queries from its grammar (docs/query-language.md);
- two `data` entries never name the same `target` and `path`;
- a schedule does not end before it starts;
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


@schemathesis.hook
def map_case(context, case):
    body = case.body
    if isinstance(body, dict):
        if "data" in body:
            body["data"] = _dedupe(body["data"])
        if isinstance(body.get("schedule"), dict):
            _fix_schedule(body["schedule"])
    return case
