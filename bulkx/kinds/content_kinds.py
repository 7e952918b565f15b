"""Core content kinds: shortener domains and links, push applications and devices, storage
containers and files."""

from __future__ import annotations

from bulkx.kinds.model import ALL_OPERATIONS, Kind, PlanField, ensure_field

F = PlanField

#: What a domain does with an expired or unknown link, and what a link does when followed.
_MODES = ("proxy_pass", "redirect_permanent", "redirect_temporary")

# --- shortener -------------------------------------------------------------------------------

SHORTENER_DOMAIN = Kind(
    name="shortener.domain",
    api="core",
    path="/shortener/domains",
    sid_field="domain_sid",
    key="domain_name",
    operations=ALL_OPERATIONS,
    doc="A domain short links live on (its name is unique across CarrierX; write it lower-case,"
    " as the API stores it). Deleting one needs its links deleted first.",
    fields=(
        F("domain_name", required=True, doc="e.g. go.example.com"),
        ensure_field(),
        F(
            "secure",
            "enum",
            choices=("disabled", "optional", "required"),
            doc="required: links are https (a scope of its own)",
        ),
        F("minimum_length", "int", doc="of the short names the API generates"),
        F("expired_mode", "enum", choices=_MODES),
        F("expired_page", "url"),
        F("expired_status_code", "int"),
        F("not_found_mode", "enum", choices=_MODES),
        F("not_found_page", "url"),
        F("not_found_status_code", "int"),
        F("suffix_pattern"),
    ),
)

SHORTENER_LINK = Kind(
    name="shortener.link",
    api="core",
    path="/shortener/links",
    sid_field="link_sid",
    key="short_name",
    parent="shortener.domain",
    parent_field="domain",
    operations=ALL_OPERATIONS,
    doc="A short link: https://<domain>/<short_name> leads to destination_url. Keyed by its"
    " short name within its domain (the plan names it; the API would otherwise make one up).",
    fields=(
        F(
            "domain",
            api="domain_sid",
            required=True,
            reference="shortener.domain",
            create_only=True,
        ),
        F("short_name", required=True, max_length=64, doc="letters, digits, _ and -"),
        ensure_field(),
        F("destination_url", "url", required=True),
        F("mode", "enum", choices=_MODES),
        F("maximum_ttl", "int", doc="seconds the link lives; -1: forever"),
    ),
)

# --- push ------------------------------------------------------------------------------------

PUSH_APPLICATION = Kind(
    name="push.application",
    api="core",
    path="/push/applications",
    sid_field="application_sid",
    key="name",
    operations=ALL_OPERATIONS,
    doc="A push application: the APNs identity devices are registered under. Its credentials"
    " (apns_p8, apns_p12, google_credentials) are secrets and are not planned: set them once"
    " through the API. Deleting one needs its devices deleted first.",
    fields=(
        F("name", required=True, max_length=255),
        ensure_field(),
        F("apns_id"),
        F("apns_key_id"),
        F("apns_team_id"),
        F("apns_topic", doc="the app's bundle id, e.g. com.example.app"),
    ),
)

PUSH_DEVICE = Kind(
    name="push.device",
    api="core",
    path="/push/devices",
    sid_field="device_sid",
    key="device_token",
    key_api="token",
    operations=ALL_OPERATIONS,
    doc="A device push notifications go to, keyed by the token its OS issued, registered under"
    " an application.",
    fields=(
        # Not `token`: the run journal refuses any field of that name as a credential.
        F("device_token", api="token", required=True, max_length=4096),
        ensure_field(),
        F("application", api="application_sid", required=True, reference="push.application"),
        F("type", "enum", required=True, choices=("android", "ios", "web")),
        F("environment", "enum", choices=("development", "production")),
        F("application_version"),
        F("os_version"),
    ),
)

# --- storage ---------------------------------------------------------------------------------

#: A file's content classifications: docs.carrierx.com/voice/core-api/storage/container.
_CLASSIFICATIONS = ("archive", "document", "executable", "media", "unknown")

STORAGE_CONTAINER = Kind(
    name="storage.container",
    api="core",
    path="/storage/containers",
    sid_field="container_sid",
    key="name",
    operations=ALL_OPERATIONS,
    doc="A storage container with its quotas and the defaults of the files put in it (an"
    " account holds two unless support raises that). Deleting one needs it emptied first.",
    fields=(
        F("name", required=True, max_length=255),
        ensure_field(),
        F("type", "enum", create_only=True, choices=("internal", "external")),
        F("quota_bytes", "int"),
        F("quota_files", "int"),
        F("allow_publish", "bool"),
        F(
            "allowed_classifications",
            "list",
            choices=_CLASSIFICATIONS,
            doc="only files of these classifications",
        ),
        F(
            "blocked_classifications",
            "list",
            choices=_CLASSIFICATIONS,
            doc="never files of these classifications",
        ),
        F("default_file_lifecycle_action"),
        F("default_file_lifecycle_ttl", "int"),
        F("default_file_publish"),
        F("default_file_unique", "bool"),
        F("unique", "bool"),
        F("string_key_1"),
        F("string_key_2"),
    ),
)

STORAGE_FILE = Kind(
    name="storage.file",
    api="core",
    path="/storage/files",
    sid_field="file_sid",
    key="name",
    parent="storage.container",
    parent_field="container",
    operations=ALL_OPERATIONS,
    doc="A file in a storage container, uploaded from the local file `path` names (relative to"
    " the plan). Its content is compared by MD5 with the live file's `file_md5`. The API cannot"
    " change a stored file's bytes, and bulkx never replaces implicitly: a changed local file is"
    " reported as blocked; to replace it, apply the item with `ensure: absent`, then again.",
    fields=(
        F("container", api="container_sid", required=True, reference="storage.container"),
        F("name", required=True, max_length=1024, doc="the file's name in its container"),
        ensure_field(),
        F(
            "path",
            "file",
            api="file_md5",
            required=True,
            create_only=True,
            doc="the local file, relative to the plan, e.g. samples/greeting.wav",
        ),
        F("publish", doc="file_sid or file_access_name: what the public URI shows"),
        F("lifecycle_action"),
        F("lifecycle_ttl", "int"),
        F("string_key_1"),
        F("string_key_2"),
    ),
)

KINDS = (
    SHORTENER_DOMAIN,
    SHORTENER_LINK,
    PUSH_APPLICATION,
    PUSH_DEVICE,
    STORAGE_CONTAINER,
    STORAGE_FILE,
)
