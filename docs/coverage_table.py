"""docs/coverage.md: every method of the CarrierX API quick reference, and for each whether the
sandbox serves it, which bulkx kind or command uses it, which tests exercise it, and why a
method has no place in a bulk tool.

Run from the checkout:  .venv/bin/python docs/coverage_table.py          (rewrites the file)
                        .venv/bin/python docs/coverage_table.py --check  (exit 1 when stale)

It lives outside the package on purpose: it reads both sides (the sandbox's route table and the
client's kinds), which must not import each other.

Where each column comes from:
- served: the routes of the sandbox app (built on a throwaway database), per API mount.
- used by bulkx: the kinds' paths and operations (`bulkx.kinds.KINDS`: read, create,
  update, delete, export), plus the few requests no kind makes (`OTHER_USES`, each checked
  against the client's source by the test that keeps this file current).
- tested: a scan of tests/ (each test with the module helpers and constants it uses): a test
  whose code names the path with the method (and, for a path several APIs share, that API), or
  that applies a plan naming a kind that uses the method (marked "via <kind>"): its update when
  the test expects one (`("update", "<kind>", ...)`), its delete when the plan marks the kind
  `ensure: absent`, and the GET that reconciles a lost delete when the sandbox also loses
  answers (`execute_then_reset`). A scan of the source, not a measurement.
- notes: `NOT_FOR_BULK`, one table of the reasons a method makes no sense for a bulk tool.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bulkx.kinds import KINDS, Kind  # noqa: E402
from bulkx.sandbox.app import SandboxConfig, create_app  # noqa: E402

#: A copy of the CarrierX API quick reference (its method tables are what this covers).
REFERENCE = ROOT / "docs" / "carrierx-api-quick-reference.txt"
TARGET = ROOT / "docs" / "coverage.md"
TESTS = ROOT / "tests"
PLANS = ROOT / "plans"

#: Quick-reference section heading -> (bulkx API name, base path).
SECTIONS = {
    "Core API": ("core", "/core/v2"),
    "Conference API": ("conference", "/conference/v1"),
    "Conference v2 API": ("conference_v2", "/conference/v2"),
    "FlexML API": ("flexml", "/flexml/v1"),
    "Mediator API": ("mediator", "/mediator/v1"),
}
TITLES = {
    "core": "Core",
    "conference": "Conference (v1)",
    "conference_v2": "Conference v2",
    "flexml": "FlexML",
    "mediator": "Mediator",
}
#: The verbs that start an action in the quick reference's method tables.
# fmt: off
VERBS = (
    "Create", "Get", "Update", "Delete", "Rent", "Release", "Browse", "Look up", "Download",
    "Send", "Revoke", "Generate", "Register", "Upload", "Verify", "Log Out",
)
# fmt: on
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
#: A method as the columns compare it: (api, HTTP method, path shape).
Key = tuple[str, str, str]

#: Requests the client makes that no kind's path explains: (api, method, path) -> what uses it.
OTHER_USES: dict[tuple[str, str, str], str] = {
    ("core", "GET", "/phonenumber/available_dids"): "did (prices, rent by criteria)",
    ("core", "GET", "/endpoints"): "app API credentials (every app kind)",
}

#: Why a method has no place in bulkx: (api, methods or None for all, path regex, reason). The
#: first match wins; a method bulkx uses gets no note.
# fmt: off
NOT_FOR_BULK: tuple[tuple[str, frozenset[str] | None, str, str], ...] = (
    ("core", None, r"^/oauth/", "authentication: the client's concern, not a plan's"),
    ("core", None, r"^/partners", "account administration, done once by hand"),
    ("core", None, r"^/invoices", "billing documents: read, never planned"),
    ("core", None, r"^/(calls|sms)/rates|^/phonenumber/rates|^/rating/",
     "price lists and quotes: reference data, not state"),
    ("core", None, r"^/calls/call_drs|^/sms/message_drs|^/app/",
     "detail records: history to report on, not state to plan"),
    ("core", None, r"^/countries", "reference data"),
    ("core", None, r"^/lookup/", "per-number lookups: a query (often billed), not state"),
    ("core", None, r"^/verification/", "one-off verification messages: events, not state"),
    ("core", None, r"^/accesscontrol/effective_acl", "a computed view of the ACLs: read only"),
    ("core", None, r"^/batch/",
     "CarrierX's own batch engine; bulkx applies changes itself, journaled and resumable"),
    ("core", frozenset({"POST"}), r"^/sms/messages$", "sending a message is an event"),
    ("core", frozenset({"POST"}), r"^/push/notifications$", "sending a notification is an event"),
    ("core", frozenset({"POST"}), r"^/tts/texts$", "one-off speech synthesis"),
    ("core", None, r"^/tts/voices", "reference data"),
    ("core", None, r"^/phonenumber/classifications|^/phonenumber/coverage",
     "reference data about the inventory"),
    ("core", frozenset({"GET"}), r"^/phonenumber/available_dids/\{",
     "one available number by sid; plans browse by filter"),
    ("core", frozenset({"DELETE"}), r"^/phonenumber/dids/\{[^}]+\}/(emergency|line_information)$",
     "the record exists with its DID: a plan sets it (enabled: false turns it off), never"
     " deletes it"),
    ("core", frozenset({"PATCH", "PUT"}), r"^/sms/messages/\{",
     "a message is sent once (sms.message is create-only), never kept in shape"),
    ("core", frozenset({"GET"}), r"^/storage/files/\{[^}]+\}/data$",
     "a file's bytes: bulkx compares a file by its MD5, never downloads it"),
    ("core", frozenset({"GET"}), r"^/trunk_groups/\{[^}]+\}/trunks$",
     "bulkx reads the trunks with their groups (GET /trunk_groups?with_trunks=true)"),
    ("conference", None, r"^/calls|^/meetings", "live calls and meetings: transient"),
    ("conference", None, r"^/callFlows", "reference data of the endpoint"),
    ("conference", None, r"/files", "media uploads: files, not records"),
    ("conference", None, r"^/subscribers/(whoami|logout)", "the session's own subscriber"),
    ("conference", None, r"/keychain",
     "a room's keys are planned with the room (its *_code columns)"),
    ("conference", frozenset({"POST"}), r"^/meetingRooms$",
     "bulkx creates a room under its subscriber (POST /subscribers/{sid}/meetingRooms)"),
    ("conference", frozenset({"GET", "PUT", "DELETE"}), r"^/subscribers/\{[^}]+\}/meetingRooms",
     "the same rooms as /meetingRooms, where bulkx reads, updates and deletes them"),
    ("conference_v2", frozenset({"GET"}), r"^/accounts/whoami$",
     "the session's own account: bulkx reads it from /accounts"),
    ("conference_v2", None, r"^/calls|^/meetings", "live calls and meetings: transient"),
    ("flexml", None, r"^/calls", "placing and steering calls: events, not state"),
    ("mediator", None, r"^/accounts",
     "read-only information about the endpoint's partner: nothing to plan"),
)
# fmt: on


@dataclass(frozen=True)
class Method:
    api: str
    method: str
    path: str
    action: str

    @property
    def shape(self) -> str:
        return shape(self.path)


def shape(path: str) -> str:
    """A path with every parameter written `{}`, so differently named parameters match."""
    return re.sub(r"\{[^}]*\}", "{}", path)


# --- the quick reference -----------------------------------------------------------------------

_ROW = re.compile(
    r"^(?P<text>.*?)\s*(?:\b(?P<method>GET|POST|PUT|PATCH|DELETE|PATCH/PUT)\s+)?(?P<path>/\S*)$"
)


def _action(text: str) -> str:
    starts = [m.start() for verb in VERBS for m in re.finditer(rf"\b{verb}\b", text)]
    return text[min(starts) :].strip() if starts else text.strip()


def reference_methods(text: str) -> list[Method]:
    """Every method of the quick reference; `PATCH/PUT` is two, a method left out is POST."""
    found: list[Method] = []
    api: str | None = None
    for line in text.splitlines():
        heading = line.strip()
        if heading in SECTIONS:
            api = SECTIONS[heading][0]
            continue
        match = _ROW.match(line.rstrip())
        if api is None or match is None:
            continue
        verbs = (match["method"] or "POST").split("/")
        found += [Method(api, verb, match["path"], _action(match["text"])) for verb in verbs]
    return found


# --- the sandbox's routes ----------------------------------------------------------------------


def sandbox_routes() -> set[tuple[str, str, str]]:
    """(api, method, path shape) of every route the sandbox app serves."""
    from starlette.routing import Mount, Route

    bases = {base: api for api, base in SECTIONS.values()}
    with tempfile.TemporaryDirectory() as scratch:
        app = create_app(SandboxConfig(db=Path(scratch) / "coverage.db", seed=0))
        try:
            served: set[tuple[str, str, str]] = set()
            for mount in app.inner.routes:
                if not isinstance(mount, Mount) or mount.path not in bases:
                    continue
                for route in mount.routes:
                    # Catch-alls (Mediator answers unknown paths in its wrapper) serve nothing.
                    if isinstance(route, Route) and ":path}" not in route.path:
                        for verb in (route.methods or set()) - {"HEAD"}:
                            served.add((bases[mount.path], verb, shape(route.path)))
            return served
        finally:
            app.world.store.close()


# --- what bulkx uses ---------------------------------------------------------------------------


def kind_uses(kind: Kind) -> Iterator[tuple[str, str, str, str]]:
    """(method, path shape, kind name, what for) of every request a kind makes."""
    path = shape(kind.path)
    if not kind.traceable:  # sent, never read back: the API has nothing to read
        yield "POST", path, kind.name, "create"
        return
    if kind.parent and not kind.singleton and "{parent_sid}" in kind.path:
        parent = KINDS[kind.parent]
        yield "GET", shape(parent.path), kind.name, "read"  # nested in its parent's list
    else:
        yield "GET", path, kind.name, "read"
    item = path if kind.singleton and kind.parent else f"{path}/{{}}"
    if "create" in kind.operations and not kind.singleton:
        yield "POST", shape(kind.creation.path or kind.path), kind.name, "create"
    if "update" in kind.operations:
        yield kind.update_method, item, kind.name, "update"
    if "delete" in kind.operations:
        # A kind may end its objects with an update (a Conference v2 call: state disconnected).
        method = "DELETE" if kind.release_body is None else kind.update_method
        yield method, item, kind.name, "release" if kind.name == "did" else "delete"
        yield "GET", item, kind.name, "reconcile a lost delete"
    if kind.api == "core" and not kind.singleton and not kind.scope_field:
        yield "GET", path, f"export {kind.name}", ""


def bulkx_uses() -> dict[tuple[str, str, str], list[str]]:
    """(api, method, path shape) -> the kinds and commands that send it."""
    by_kind: dict[tuple[str, str, str], dict[str, list[str]]] = {}
    for kind in KINDS.values():
        for method, path, who, why in kind_uses(kind):
            whats = by_kind.setdefault((kind.api, method, path), {}).setdefault(who, [])
            if why and why not in whats:
                whats.append(why)
    uses = {
        key: [f"{who} ({', '.join(whats)})" if whats else who for who, whats in sorted(w.items())]
        for key, w in by_kind.items()
    }
    for (api, method, path), what in OTHER_USES.items():
        uses.setdefault((api, method, shape(path)), []).append(what)
    return uses


# --- what the tests exercise -------------------------------------------------------------------

_METHOD_HINTS = {
    "GET": (".get(", "list_all(", "iter_pages(", '"GET"'),
    "POST": (".post(", '"POST"'),
    "PATCH": (".patch(", '"PATCH"'),
    "PUT": (".put(", '"PUT"'),
    "DELETE": (".delete(", '"DELETE"'),
}
#: How a test names an API next to a path: its base path or its client name.
_API_HINTS = {api: (base, f'"{api}"', f"'{api}'") for api, base in SECTIONS.values()}
#: A test module about one app API (tests/sandbox/test_flexml.py) talks to that API by default.
_MODULE_API = {
    "conference_v1": "conference",
    "conference_v2": "conference_v2",
    "flexml": "flexml",
    "mediator": "mediator",
}
_KIND_IN_PLAN = re.compile(r"kind:\s*([a-z_0-9.]+)")
#: Signs that a test applies a plan (library, test helper, executor, or the command).
_APPLIES = ("apply(", "apply_in_order(", "Executor(", ', "apply"')
_SEGMENT = r"(?:\{[^{}]*\}|[\w.\-])+"
#: A path in a test's source: "/phonenumber/dids", f"/trunk_groups/{tg}/trunks", ...
_MENTION = re.compile(rf"(?<![\w/.:])/{_SEGMENT}(?:/{_SEGMENT})*")


@dataclass
class ScannedTest:
    name: str
    text: str
    default_api: str
    #: Kinds of the plans the test applies, and those of them it names with `ensure: absent`.
    kinds: set[str] = field(default_factory=set)
    absent: set[str] = field(default_factory=set)


def _segment(source: list[str], node: ast.stmt) -> str:
    return "\n".join(source[node.lineno - 1 : node.end_lineno])


def _absent_kinds(plan_text: str) -> set[str]:
    """Kinds whose items a plan's text (YAML in a test) marks `ensure: absent`: each `kind:` up
    to the next one or the end of its string."""
    found = set()
    for match in _KIND_IN_PLAN.finditer(plan_text):
        rest = plan_text[match.end() :]
        after = _KIND_IN_PLAN.search(rest)
        items = rest[: after.start() if after else len(rest)].split('"""')[0]  # this plan's
        if "absent" in items:
            found.add(match[1])
    return found


def _closure(node: ast.AST, definitions: dict[str, str], trees: dict[str, ast.stmt]) -> list[str]:
    """The source of the module's constants, helpers and classes a test names, and of those
    they name in turn: what the test runs."""
    seen: list[str] = []
    todo: list[ast.AST] = [node]
    while todo:
        for name in sorted({n.id for n in ast.walk(todo.pop()) if isinstance(n, ast.Name)}):
            if name in definitions and name not in seen:
                seen.append(name)
                todo.append(trees[name])
    return [definitions[name] for name in seen]


def scan_tests(tests: Path = TESTS) -> list[ScannedTest]:
    """Each test function's code, with the module constants (plans, paths), helpers and
    classes it names."""
    found: list[ScannedTest] = []
    plan_kinds = {
        plan.name: set(_KIND_IN_PLAN.findall(plan.read_text())) for plan in PLANS.glob("*.yaml")
    }
    for path in sorted(tests.rglob("test_*.py")):
        source = path.read_text()
        if "coverage_table" in source:
            continue  # the tests of this table name methods without calling them
        lines = source.splitlines()
        tree = ast.parse(source)
        trees: dict[str, ast.stmt] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                trees.update((t.id, node) for t in targets if isinstance(t, ast.Name))
            elif isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
            ) and not node.name.startswith("test_"):
                trees[node.name] = node
        definitions = {name: _segment(lines, node) for name, node in trees.items()}
        default = next((api for word, api in _MODULE_API.items() if word in path.stem), "core")
        module_plans = {name for name in plan_kinds if name in source}
        for test in ast.walk(tree):
            if not isinstance(test, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if not test.name.startswith("test_"):
                continue
            text = "\n".join([_segment(lines, test), *_closure(test, definitions, trees)])
            code = ScannedTest(
                f"{path.relative_to(tests).with_suffix('')}::{test.name}", text, default
            )
            if any(hint in text for hint in _APPLIES):
                code.kinds = set(_KIND_IN_PLAN.findall(text))
                code.absent = _absent_kinds(text)
                for plan in module_plans:
                    if plan in text:  # named by the test, or by a helper or constant it uses
                        code.kinds |= plan_kinds[plan]
            found.append(code)
    return found


def _api_of(text: str, start: int, end: int, default: str) -> str:
    """The API a path mention talks to: a base or client name right around it, else the
    module's."""
    around = text[max(0, start - 48) : end + 48]
    for api, hints in _API_HINTS.items():
        if any(hint in around for hint in hints):
            return api
    return default


def _method_of(text: str, start: int) -> str | None:
    """The HTTP method of the call a path mention is in: the nearest hint before it."""
    before = text[max(0, start - 64) : start]
    best: tuple[int, str] | None = None
    for method, hints in _METHOD_HINTS.items():
        for hint in hints:
            at = before.rfind(hint)
            # The hint must open the call the path is in: no call closes between them.
            if at >= 0 and ")" not in before[at + len(hint) :] and (best is None or at > best[0]):
                best = (at, method)
    if best is None or "Request(" in before[: best[0]].rsplit(")", 1)[-1]:
        return None  # a request bulkx would build, asserted on: not one sent to an API
    return best[1]


def _shapes_matching(mention: str, shapes: dict[int, list[str]]) -> list[str]:
    """The path shapes a mention can be: `{...}` placeholders match parameters, and so does
    a literal sid; a literal match beats a parameter match."""
    parts = mention.strip("/").split("/")
    scored: list[tuple[int, str]] = []
    for candidate in shapes.get(len(parts), []):
        score = 0
        for mine, theirs in zip(parts, candidate.strip("/").split("/"), strict=True):
            placeholder = mine.startswith("{") and mine.endswith("}")
            if theirs == "{}":
                continue
            if placeholder or mine != theirs:
                break
            score += 1
        else:
            scored.append((score, candidate))
    if not scored:
        return []
    best = max(score for score, _ in scored)
    return [candidate for score, candidate in scored if score == best]


_UPDATE_OF = re.compile(r'\("update", "([a-z_.0-9]+)"')
#: `("update", kind, key) for kind, key in [("push.device", "tok-1"), ...]`
_UPDATES_OF = re.compile(r'\("update", (\w+), \w+\) for \1, \w+ in \[(.*?)\]\]', re.DOTALL)


def _updates_expected(text: str) -> set[str]:
    """Kinds a test expects a plan to update: `("update", "trunk", ...)`, one by one or as a
    list of (kind, key) pairs."""
    found = set(_UPDATE_OF.findall(text))
    for _, pairs in _UPDATES_OF.findall(text):
        found |= set(re.findall(r'\(\s*"([a-z_.0-9]+)"', pairs))
    return found


#: Which of a kind's requests applying a plan with it shows: by what the request is for.
def _applied(why: str, kind: Kind, test: ScannedTest) -> bool:
    if why in ("read", "create"):
        return True
    if why == "update":
        return kind.operations == {"update"} or kind.name in _updates_expected(test.text)
    if why in ("delete", "release"):
        return kind.name in test.absent
    if why == "reconcile a lost delete":  # deletes whose answers the sandbox loses
        return kind.name in test.absent and "execute_then_reset" in test.text
    return False  # export is not what applying shows


def tested(methods: Iterable[Method], code: list[ScannedTest]) -> dict[Method, list[str]]:
    """Per method, the tests that exercise it (directly, or "via <kind>")."""
    wanted = {(m.api, m.method, m.shape): m for m in methods}
    shapes: dict[int, list[str]] = {}
    for shape_ in sorted({m.shape for m in wanted.values()}):
        shapes.setdefault(len(shape_.strip("/").split("/")), []).append(shape_)
    bases = {base: api for api, base in SECTIONS.values()}
    found: dict[tuple[str, str, str], list[str]] = {key: [] for key in wanted}
    for test in code:
        direct: set[tuple[str, str, str]] = set()
        for match in _MENTION.finditer(test.text):
            mention, api = match.group(), None
            for base, base_api in bases.items():
                if mention.startswith(base + "/"):
                    mention, api = mention[len(base) :], base_api
            method = _method_of(test.text, match.start())
            if method is None:
                continue
            api = api or _api_of(test.text, match.start(), match.end(), test.default_api)
            for candidate in _shapes_matching(mention, shapes):
                direct.add((api, method, candidate))
        for key in sorted(direct & found.keys()):
            found[key].append(test.name)
        for name in sorted(test.kinds & KINDS.keys()):
            kind = KINDS[name]
            for verb, path, _, why in kind_uses(kind):
                key = (kind.api, verb, path)
                if key in found and key not in direct and _applied(why, kind, test):
                    label = f"{test.name} (via {name})"
                    if not any(n.startswith(test.name) for n in found[key]):
                        found[key].append(label)
    return {method: found[key] for key, method in wanted.items()}


# --- the document ------------------------------------------------------------------------------


#: Why the sandbox does not serve a method of the quick reference: (api, method, path) -> reason.
#: Every method is served or named here (a test keeps it so); none is left out today.
NOT_SERVED: dict[tuple[str, str, str], str] = {}


def served_cell(method: Method, served: set[tuple[str, str, str]]) -> str:
    if (method.api, method.method, method.shape) in served:
        return "yes"
    return f"no: {NOT_SERVED.get((method.api, method.method, method.path), 'NO REASON GIVEN')}"


#: Why bulkx leaves out a method it has an equivalent of.
SAME_AS_PATCH = "bulkx sends the PATCH: the same update, of only the fields a plan names"
SAME_AS_LIST = "bulkx reads the list (filtered), not one object at a time"


def note_for(method: Method, uses: dict[tuple[str, str, str], list[str]]) -> str:
    if method.method == "PUT" and (method.api, "PATCH", method.shape) in uses:
        return SAME_AS_PATCH
    parent = method.shape.rsplit("/", 1)[0]
    if (
        method.method == "GET"
        and method.shape.endswith("/{}")
        and (method.api, "GET", parent) in uses
    ):
        return SAME_AS_LIST
    for api, verbs, pattern, reason in NOT_FOR_BULK:
        matches = api == method.api and (verbs is None or method.method in verbs)
        if matches and re.search(pattern, method.path):
            return reason
    return ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _tests_cell(names: list[str], shown: int = 2) -> str:
    if not names:
        return "no"
    more = f" +{len(names) - shown} more" if len(names) > shown else ""
    return "<br>".join(f"`{n}`" for n in names[:shown]) + more


#: The head of each API's table.
_METHOD_TABLE = (
    "| method | path | action | served | used by bulkx | tested | notes |",
    "|---|---|---|---|---|---|---|",
)


def _method_row(m: Method, served: set[Key], uses: dict[Key, list[str]], names: list[str]) -> str:
    """One method's row: served, used by bulkx, tested (by `names`), and the notes."""
    key = (m.api, m.method, m.shape)
    cells = (
        m.method,
        f"`{m.path}`",
        m.action,
        served_cell(m, served),
        "; ".join(uses.get(key, [])),
        _tests_cell(names),
        note_for(m, uses) if key not in uses else "",
    )
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def render(reference: str, tests: Path = TESTS) -> str:
    methods = reference_methods(reference)
    served = sandbox_routes()
    uses = bulkx_uses()
    exercised = tested(methods, scan_tests(tests))
    listed = {(m.api, m.method, m.shape) for m in methods}
    lines = [
        "# Coverage of the CarrierX API",
        "",
        "<!-- Generated by docs/coverage_table.py from the API quick reference, the sandbox's",
        "     routes, bulkx's kinds and a scan of tests/. Do not edit: run",
        "     .venv/bin/python docs/coverage_table.py -->",
        "",
        "Every method of the CarrierX API quick reference: whether the embedded sandbox serves",
        "it, which bulkx kind or command sends it, which tests exercise it, and why a method has",
        "no place in a bulk tool. *tested* is a scan of the tests' source (a test naming the",
        "path with the method, or applying a plan with a kind that sends it: *via kind*), not",
        "a measurement.",
        "",
        "| API | methods | served by the sandbox | used by bulkx | tested |",
        "|---|---|---|---|---|",
    ]
    for api, title in TITLES.items():
        rows = [m for m in methods if m.api == api]
        lines.append(
            f"| {title} | {len(rows)} "
            f"| {sum((m.api, m.method, m.shape) in served for m in rows)} "
            f"| {sum((m.api, m.method, m.shape) in uses for m in rows)} "
            f"| {sum(bool(exercised[m]) for m in rows)} |"
        )
    for api, title in TITLES.items():
        lines += ["", f"## {title} (`{dict(SECTIONS.values())[api]}`)", "", *_METHOD_TABLE]
        lines += [_method_row(m, served, uses, exercised[m]) for m in methods if m.api == api]
    extras = sorted(k for k in served if k not in listed)
    if extras:
        lines += ["", "## Served by the sandbox, not in the quick reference", ""]
        lines += ["| API | method | path |", "|---|---|---|"]
        lines += [f"| {TITLES[api]} | {verb} | `{path}` |" for api, verb, path in extras]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/coverage.md is stale")
    args = parser.parse_args()
    text = render(REFERENCE.read_text())
    if args.check:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is stale: run .venv/bin/python docs/coverage_table.py")
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
