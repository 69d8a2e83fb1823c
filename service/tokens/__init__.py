"""API tokens: who may call the service (the tokens themselves are checked in `service.auth`)."""
