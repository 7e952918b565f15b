"""Resource definitions, one module per CarrierX API."""
