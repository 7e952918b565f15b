"""Assumptions of the sandbox about push applications and devices, the link shortener, storage."""

from __future__ import annotations

from typing import Final

# --- push -----------------------------------------------------------------------------------------
#: Empty strings sent for application credentials are stored as null (the create sample sends ""
#: and answers null).
PUSH_EMPTY_STRINGS_ARE_NULL: Final = True
#: The docs list device_sid (read only) as required to create a device, a slip: these are.
PUSH_DEVICE_REQUIRED: Final = ("application_sid", "token", "type")
#: `reuse` (default true) answers an existing device with the same values of these fields.
PUSH_DEVICE_REUSE_MATCH: Final = ("token", "type", "environment")
#: Deleting an application that still has devices.
PUSH_APPLICATION_IN_USE_STATUS: Final = 409

# --- shortener ------------------------------------------------------------------------------------
#: Domain and link modes (the docs' lists were cut off; proxy_pass and redirect_temporary are
#: documented), and `secure` values (disabled and required are documented).
SHORTENER_MODES: Final = ("proxy_pass", "redirect_permanent", "redirect_temporary")
SHORTENER_SECURE_VALUES: Final = ("disabled", "optional", "required")
#: A domain_name is unique across all partners; a short_name is unique within its domain.
SHORTENER_NAME_TAKEN_STATUS: Final = 409
#: Deleting a domain that still has links.
SHORTENER_DOMAIN_IN_USE_STATUS: Final = 409
#: A generated short_name: this many letters and digits, or the domain's minimum_length if longer.
SHORTENER_GENERATED_NAME_LENGTH: Final = 6
#: A link's url is "https://<domain_name>/<short_name>" when the domain's secure is "required",
#: "http://..." otherwise. `reuse=true` matches a link by domain_sid and destination_url.
SHORTENER_LINK_REUSE_MATCH: Final = ("domain_sid", "destination_url")

# --- storage --------------------------------------------------------------------------------------
#: "By default, CarrierX allows the partners to have only two containers per account" (documented);
#: a third answers this status.
STORAGE_CONTAINERS_PER_PARTNER: Final = 2
STORAGE_CONTAINER_LIMIT_STATUS: Final = 409
#: An upload (or a PATCH moving a file) past the container's quota_files or quota_bytes. The docs
#: name no status; 409 is their "depends on the conflict source".
STORAGE_QUOTA_EXCEEDED_STATUS: Final = 409
#: quota_bytes / quota_files may be changed by the partner (the docs do not mark them read only).
STORAGE_QUOTAS_WRITABLE: Final = True
#: A file whose classification the container does not allow ("will be rejected").
STORAGE_CLASSIFICATION_REJECTED_STATUS: Final = 422
#: Deleting a container that still holds files.
STORAGE_CONTAINER_IN_USE_STATUS: Final = 409
#: The File object documents no checksum; the sandbox adds this read-only field (hex MD5 of the
#: bytes) so a diff can compare content without downloading. The real API may lack it.
STORAGE_FILE_CHECKSUM_FIELD: Final = "file_md5"
#: The largest upload the sandbox accepts (bytes); a bigger one answers 413.
STORAGE_MAX_UPLOAD_BYTES: Final = 64 * 1024 * 1024
#: content_classification from the file's MIME type (itself guessed from its name): audio, video
#: and image are media; text, PDF and office types document; zip/tar/gzip/7z/rar archive;
#: executables and scripts executable; anything else unknown.
STORAGE_CLASSIFY_BY: Final = "mime_type_from_name"
