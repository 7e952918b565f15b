"""What bulkx manages: one declarative `Kind` per object kind a plan can name.

The plan loader validates against these definitions, the diff compares through them, and the
executor writes through them. Client side only: the sandbox has its own definitions, so each
checks the other.
"""

from bulkx.kinds.model import Kind, PlanField
from bulkx.kinds.registry import KINDS, kind_named

__all__ = ["KINDS", "Kind", "PlanField", "kind_named"]
