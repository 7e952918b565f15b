"""The shape of a kind definition, and the default mapping between plan values and API objects."""

from __future__ import annotations

import hashlib
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

#: Value types a plan field can have. `e164` is normalised to digits without '+'; `list` is a
#: list of strings (a YAML list, or a CSV cell of JSON or of `;`-separated values); `file` is a
#: local file's path, relative to the plan: compared by MD5 with its API field, and its bytes
#: are the body of the create (an upload).
FieldType = Literal[
    "str",
    "int",
    "bool",
    "e164",
    "url",
    "state",
    "zip",
    "alpha3",
    "digits",
    "object",
    "enum",
    "list",
    "file",
]
#: The API a kind lives in (`Kind.api`).
ApiName = Literal["core", "conference_v2", "conference", "flexml", "mediator"]
#: What bulkx may do to an object of a kind through its API.
WriteVerb = Literal["create", "update", "delete"]
CREATE_UPDATE: frozenset[WriteVerb] = frozenset({"create", "update"})
ALL_OPERATIONS: frozenset[WriteVerb] = frozenset({"create", "update", "delete"})
UPDATE_ONLY: frozenset[WriteVerb] = frozenset({"update"})
#: How the live objects of a kind are read for a plan (`Kind.reads`): its whole list; `in (...)`
#: filters on the keys the plan names; inside its parent's list (`Kind.nested_in`); its whole
#: list, scoped by the parent each names (a link by its domain); one GET per parent (a DID's
#: E911 record); the list of each endpoint's own account (app APIs); or the run journals only
#: (the sends the API keeps no trace of).
ReadStrategy = Literal[
    "whole", "by_key", "nested", "parent_scoped", "per_parent", "per_endpoint", "journals"
]
#: What a plan must be allowed to do, beyond create, update and delete, before objects of a
#: kind are made or ended (`Confirmation`). The core decides on these and names them in its
#: changes and messages; only the CLI spells each as the flag that gives it.
Permission = Literal["partners", "send", "calls"]
#: Everything an apply must be allowed to do beyond create and update: release (delete) what
#: the plan says is absent (`RunOptions.allow_release`), or a kind's `Permission`. What a
#: blocked change `needs`, and what a revert plan needs to be applied.
Allowance = Literal["release", Permission]
ALLOWANCES: tuple[Allowance, ...] = get_args(Allowance)


def granted_permissions(
    *, allow_partners: bool = False, allow_send: bool = False, allow_calls: bool = False
) -> frozenset[Permission]:
    """The permissions a run's options give (one option each)."""
    given: dict[Permission, bool] = {
        "partners": allow_partners,
        "send": allow_send,
        "calls": allow_calls,
    }
    return frozenset(permission for permission, on in given.items() if on)


@dataclass(frozen=True)
class PlanField:
    """One column of a plan CSV / one key of a YAML item."""

    name: str
    type: FieldType = "str"
    #: The API field it maps to (None: the plan-only field, e.g. `ensure`).
    api: str | None = ""
    choices: tuple[str, ...] = ()
    max_length: int | None = None
    required: bool = False
    #: The kind this field names an object of, by natural key; resolved to that object's sid.
    reference: str | None = None
    #: The reference is sent as the natural key itself (a mediator binding's redirect_did is a
    #: phone number), not as a sid: it orders the work and is checked, but never resolved.
    sends_key: bool = False
    #: Settable only when the object is created (a change of it on a live object is drift that
    #: the plan cannot fix, e.g. an endpoint's type).
    create_only: bool = False
    default: Any = None
    doc: str = ""
    #: What the API holds when the field is empty: a clear (YAML null, CSV `<clear>`) sends
    #: it, and the diff takes a live value equal to it as cleared. None: JSON null, or {} and
    #: [] for objects and lists (`empty_value`).
    empty: Any = None
    #: Whether a plan may clear it. None: any optional field the API stores, except booleans,
    #: numbers, choices and fields with a default: the API has no empty value for those, only
    #: values to set.
    clearable: bool | None = None

    @property
    def api_name(self) -> str | None:
        if self.api == "":
            return self.name
        return self.api

    @property
    def empty_value(self) -> Any:
        if self.empty is not None:
            return self.empty
        return {} if self.type == "object" else [] if self.type == "list" else None

    @property
    def can_clear(self) -> bool:
        """A plan may clear it (the key and the scope of a kind never: `Kind.can_clear`)."""
        if self.required or self.api_name is None or self.create_only:
            return False
        if self.clearable is not None:
            return self.clearable
        return self.default is None and self.type not in ("bool", "int", "enum", "file")

    def as_api(self, value: Any) -> Any:
        """A plan value as the API takes it: a clear (None) is the field's empty value."""
        return self.empty_value if value is None else value


@dataclass(frozen=True)
class Verb:
    """How messages name what ending an object does: its base form and its past tense."""

    base: str
    past: str


DELETE = Verb("delete", "deleted")
#: A rented number is released back to the inventory, not deleted.
RELEASE = Verb("release", "released")


@dataclass(frozen=True)
class Nesting:
    """Objects listed inside their parent's list (a trunk group's trunks), not on their own."""

    #: The parent's API field that holds them.
    api_field: str
    #: The query arguments that make the parent's list include them.
    params: Mapping[str, str] = field(default_factory=dict, compare=False)


def ensure_field(*, release: bool = False) -> PlanField:
    """The plan-only `ensure` field of a kind bulkx may delete: `absent` deletes (a DID:
    releases), and only with --allow-release."""
    if release:
        return PlanField(
            "ensure",
            "enum",
            api=None,
            choices=("present", "adopted", "absent"),
            default="present",
            doc="present: rent if missing; adopted: must be on the account already (ported);"
            " absent: release (needs --allow-release)",
        )
    return PlanField(
        "ensure",
        "enum",
        api=None,
        choices=("present", "absent"),
        default="present",
        doc="present: create if missing; absent: delete (needs --allow-release)",
    )


def local_file(value: Any, plan_file: str) -> Path:
    """The local file a `file` field names: relative to the plan file that names it."""
    return Path(plan_file).parent / str(value)


def file_md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


ToApi = Callable[[Mapping[str, Any]], dict[str, Any]]
FromApi = Callable[[Mapping[str, Any]], dict[str, Any]]
#: What in a create's answer says it did not work although the API accepted it (a push
#: notification whose device was not found), or None.
AnswerProblem = Callable[[Mapping[str, Any]], str | None]


@dataclass(frozen=True)
class Creation:
    """How objects of a kind come into being, and what a create's answer holds."""

    #: Where creates are POSTed when not to the kind's `path`: `{field}` is the sid of the
    #: object that reference field names (a v1 meeting room is created under its subscriber).
    #: A field in the path is not sent in the body.
    path: str | None = None
    #: Plan fields a create sends as query arguments (by API name) rather than in the body, and
    #: fixed query arguments every create carries.
    query_fields: tuple[str, ...] = ()
    params: Mapping[str, str] = field(default_factory=dict, compare=False)
    #: Answer fields kept as the operation's result (a verification's code), for the report.
    answer_fields: tuple[str, ...] = ()
    #: What in a create's answer says it did not work although the API accepted it.
    answer_problem: AnswerProblem | None = field(default=None, repr=False)
    #: Where the objects to rent are listed, by their key (a DID: the available numbers); None:
    #: objects are made, not rented (`Kind.rentable`).
    inventory: str | None = None
    #: A view of another kind's object with the same sid (a conference_v2 DID is a Core DID
    #: routed to the endpoint): its sid is known from that kind before the view shows it.
    same_sid_as: str | None = None
    #: Why a missing object cannot be created, and what to do instead (kinds without "create").
    missing_hint: str = ""


@dataclass(frozen=True)
class Sending:
    """A kind that sends something (a text message, a call) rather than keeps it in shape:
    created once, never compared or updated; its key, stored on the object, is how a re-run or
    a resume knows it went out."""

    #: The field whose value is paced on its own (a message's sending number), so that no one
    #: number sends faster than the carrier allows.
    paced_by: str | None = None
    #: Whether the API keeps the key on what was sent (an SMS's user_data, a call's
    #: attributes), so a lost answer is looked up. Without it (a push notification, a
    #: verification SMS) the run journals are the only record: each item is sent at most
    #: once, and one whose answer was lost is reported as such, never sent again.
    traceable: bool = True


@dataclass(frozen=True)
class Confirmation:
    """What a plan must also be allowed to do before objects of a kind are made or ended."""

    permission: Permission
    #: Updating one needs it too (a live call: muting it changes a meeting under way).
    updates: bool = False


#: The confirmation of every sending kind: nothing is sent unless sending is allowed.
SEND = Confirmation("send")


@dataclass(frozen=True)
class Kind:
    """One kind of object a plan can name, as data: where it lives, how it is keyed, its fields,
    and what the API lets bulkx do to it. Every layer (validation, diff, requests) reads this;
    none has a branch per kind."""

    name: str
    api: ApiName
    #: Collection path under the API base; `{parent_sid}` is the parent object's sid.
    path: str
    sid_field: str
    #: The plan field that identifies an object (its natural key), and the API field holding it.
    #: An app kind keyed by `endpoint` is the endpoint's own account: one object per endpoint.
    key: str
    fields: tuple[PlanField, ...]
    doc: str
    #: For sub-records (E911, line information) and nested objects (trunks): the parent kind,
    #: and the plan field that names the parent.
    parent: str | None = None
    parent_field: str | None = None
    #: A sub-record exists whenever its parent does: it is read and patched, never created.
    singleton: bool = False
    #: The API field the natural key is read from on live objects.
    key_api: str = ""
    #: What the API lets bulkx do. Without "create", a missing object is blocked (it comes into
    #: being some other way; a singleton is updated into being); without "update", a differing
    #: one is blocked; "delete" comes with an `ensure` field (`ensure_field()`).
    operations: frozenset[WriteVerb] = CREATE_UPDATE
    #: How an update is sent: PATCH, or PUT where the API has no PATCH (Conference v1's PUT is a
    #: partial update), or POST where a sub-record is set by one (a DID's messaging).
    update_method: Literal["PATCH", "PUT", "POST"] = "PATCH"
    #: The API's sids of this kind are integers (Conference v1): references send them as such.
    numeric_sid: bool = False
    #: Plan fields whose values are unique together across a scope's objects (a conference
    #: endpoint's access codes), checked offline by validation.
    unique_across: tuple[str, ...] = ()
    #: For a kind the API cannot DELETE: the update body that ends one instead (a Conference v2
    #: call is hung up by a PATCH of its state).
    release_body: Mapping[str, Any] | None = field(default=None, compare=False)
    #: How objects come into being (`Creation`): where creates go, what their answer holds.
    creation: Creation = Creation()
    #: For a kind that sends something (a text message): how it goes out (`Sending`).
    sending: Sending | None = None
    #: The permission that making or ending one also needs (`Confirmation`), or None.
    confirmation: Confirmation | None = None
    #: Fields the API takes as one value (an E911 location): an update sends them all, the
    #: live value of one the plan leaves out included, so that leaving a cell empty never
    #: empties it.
    written_together: tuple[str, ...] = ()
    #: Custom mapping for kinds whose API shape differs from the plan's flat columns.
    to_api_hook: ToApi | None = field(default=None, repr=False)
    from_api_hook: FromApi | None = field(default=None, repr=False)
    #: The list is the account's longest (its numbers): read by `in (...)` filters on the keys
    #: the plan names, not whole, and its per-parent records along with it.
    listed_by_key: bool = False
    #: Listed only inside the parent's list (a trunk in its trunk group's `trunks`).
    nested_in: Nesting | None = None
    #: What ending one is called (a DID is released).
    delete_verb: Verb = DELETE
    #: The `ensure` value that keeps an object already on the account without ever making one
    #: (a DID's "adopted": a ported number is never rented instead): what an export writes
    #: and what a revert leaves. None: such objects are simply "present".
    existing_ensure: str | None = None
    #: What messages call one ("number" for a DID); empty: its kind name.
    noun: str = ""
    #: What the progress of a long read calls them ("DIDs", a DID's "E911"); empty: no
    #: progress is told.
    progress_label: str = ""

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        problems = []
        if len(set(names)) != len(names):
            problems.append("a field is defined twice")
        if self.key not in names:
            problems.append(f"the key {self.key!r} is not a field")
        if ("delete" in self.operations) != ("ensure" in names):
            problems.append("a kind has an `ensure` field exactly when it can be deleted")
        problems.extend(self._sending_problems())
        if any(n not in names for n in self.creation.query_fields):
            problems.append("query_fields names a field that is not one")
        if any(n not in names for n in self.written_together):
            problems.append("written_together names a field that is not one")
        for name in self.path_fields:
            if name not in names or self.by_name[name].reference is None:
                problems.append(f"create_path names {name!r}, which is no reference field")
        problems.extend(self._read_problems())
        if self.existing_ensure is not None and (
            "ensure" not in names or self.existing_ensure not in self.by_name["ensure"].choices
        ):
            problems.append(f"existing_ensure {self.existing_ensure!r} is no `ensure` choice")
        if problems:
            raise ValueError(f"kind {self.name}: " + "; ".join(problems))

    def _sending_problems(self) -> list[str]:
        """What contradicts how a sending kind goes out (`sending`)."""
        if self.sending is None:
            return []
        problems = []
        if self.operations != {"create"} or self.confirmation is None:
            problems.append("a sending kind is create-only and needs a confirm permission")
        key = self.by_name.get(self.key)
        if not self.sending.traceable and key is not None and key.api_name is not None:
            problems.append("an untraceable kind's key is plan-only (api=None)")
        paced_by = self.sending.paced_by
        if paced_by is not None and paced_by not in self.by_name:
            problems.append(f"paced_by names {paced_by!r}, which is no field")
        return problems

    def _read_problems(self) -> list[str]:
        """What contradicts how the kind's live objects are read (`reads`)."""
        problems = []
        if self.nested_in is not None and self.parent is None:
            problems.append("a nested kind names its parent")
        in_parent = "{parent_sid}" in self.path
        if in_parent and self.reads not in ("nested", "per_parent", "per_endpoint"):
            problems.append("a path under its parent's sid is nested or a singleton sub-record")
        if self.listed_by_key and self.api != "core":
            problems.append("only a Core kind is read by key")
        return problems

    @property
    def rentable(self) -> bool:
        """Objects come from an inventory (a DID): a `count:` step rents some by criteria, the
        inventory's price of a missing one is read, and a rent sends only the values set."""
        return self.creation.inventory is not None

    @property
    def sends(self) -> bool:
        """Something sent, not kept in shape (`Sending`)."""
        return self.sending is not None

    @property
    def traceable(self) -> bool:
        """The API keeps something to look an object up by: every kind but an untraceable
        send (`Sending.traceable`)."""
        return self.sending is None or self.sending.traceable

    @cached_property
    def reads(self) -> ReadStrategy:
        """How the diff reads the live objects of this kind (`ReadStrategy`), from its shape."""
        if self.sends and not self.traceable:
            return "journals"
        if self.api != "core":
            return "per_endpoint"
        if self.sends or self.listed_by_key:
            return "by_key"
        if self.nested_in is not None:
            return "nested"
        if self.parent and self.singleton and "{parent_sid}" in self.path:
            return "per_parent"
        if self.parent:
            return "parent_scoped"
        return "whole"

    @cached_property
    def by_name(self) -> Mapping[str, PlanField]:
        """Fields by plan name, built once per kind: the diff and the request builders look a
        field up for every value of every change (rebuilt each time, it cost ~1.6 s in
        `bulkx plan` of 100,000 DIDs). Read-only: every caller shares it."""
        return MappingProxyType({f.name: f for f in self.fields})

    def can_clear(self, name: str) -> bool:
        """A plan may clear this field of this kind (never what names an object)."""
        spec = self.by_name.get(name)
        if spec is None or name in (self.key, self.scope_field, self.parent_field):
            return False
        return spec.can_clear

    @property
    def key_field(self) -> str:
        return self.key_api or self.key

    @property
    def per_endpoint(self) -> bool:
        """One object per app endpoint (its account), keyed by the endpoint's name."""
        return self.api != "core" and self.key == "endpoint"

    @cached_property
    def scope_field(self) -> str | None:
        """What scopes the natural key: a trunk's trunk group, an app object's endpoint."""
        if self.parent_field and self.parent_field != self.key:
            return self.parent_field
        endpoint = self.by_name.get("endpoint")
        if endpoint is not None and endpoint.api is None and self.key != "endpoint":
            return "endpoint"
        return None

    def natural_key(self, values: Mapping[str, Any]) -> str:
        """The key the diff matches desired and live objects on ("endpoint/name" when scoped)."""
        scope = self.scope_field
        key = str(values.get(self.key, ""))
        return f"{values.get(scope, '')}/{key}" if scope else key

    def reference_key(self, name: Any, values: Mapping[str, Any]) -> str:
        """The natural key of the object of this kind that `name` names from an item with
        `values`: a scoped object (a conference DID group) is looked up in the item's own scope
        (its endpoint)."""
        scope = self.scope_field
        if scope and values.get(scope) not in (None, ""):
            return f"{values[scope]}/{name}"
        return str(name)

    @cached_property
    def path_fields(self) -> tuple[str, ...]:
        """The reference fields `create_path` places in the URL."""
        if self.creation.path is None:
            return ()
        return tuple(n for _, n, _, _ in string.Formatter().parse(self.creation.path) if n)

    def to_api(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """API body fields for plan values (references must already be resolved to sids)."""
        if self.to_api_hook is not None:
            return self.to_api_hook(values)
        body: dict[str, Any] = {}
        for spec in self.fields:
            api_name = spec.api_name
            if api_name is not None and spec.name in values:
                body[api_name] = spec.as_api(values[spec.name])
        return body

    @cached_property
    def api_names(self) -> tuple[tuple[str, str], ...]:
        """(plan name, API name) of each field the API has (read once per live object)."""
        return tuple((f.name, f.api_name) for f in self.fields if f.api_name is not None)

    @cached_property
    def managed(self) -> frozenset[str]:
        """Fields compared with live state: those that map to the API, but not the key, nor
        the scope that selects the endpoint (plan-only fields such as `ensure` map to none)."""
        return frozenset(
            name for name, _ in self.api_names if name not in (self.key, self.scope_field)
        )

    @cached_property
    def read_fields(self) -> tuple[str, ...] | None:
        """The API fields a read of this kind needs (its sid, its key and what `from_api`
        keeps), asked for with `include_fields`; None when a hook reads the object whole."""
        if self.from_api_hook is not None:
            return None
        names = (self.sid_field, self.key_field, *(api for _, api in self.api_names))
        return tuple(dict.fromkeys(names))

    @cached_property
    def file_fields(self) -> tuple[str, ...]:
        """Fields whose value is a local file to upload."""
        return tuple(f.name for f in self.fields if f.type == "file")

    def from_api(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Plan-shaped values of a live object (references still as sids, under plan names)."""
        if self.from_api_hook is not None:
            return self.from_api_hook(obj)
        return {name: obj[api_name] for name, api_name in self.api_names if api_name in obj}
