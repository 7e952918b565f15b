"""The embedded CarrierX sandbox: a local, faithful emulator of the CarrierX REST APIs.

It must never import the client side of bulkx (plan, api, diff, engine, journal): the sandbox
and the client check each other, so neither may borrow the other's understanding of the API.
"""
