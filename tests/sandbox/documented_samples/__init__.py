"""The documented-samples suite: each request/response sample of the CarrierX docs, sent to a
served sandbox and compared with the documented answer (test_documented_samples.py)."""
