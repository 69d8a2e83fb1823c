"""`merit`, the command line: a thin adapter over the engine and the service's use cases.

`main` parses and dispatches; `common` holds what every command shares (inputs, outputs, fact
options); `simulate` the what-if commands; `server` serve, db and token. Command modules import
`common`, never each other.
"""

from service.cli.main import main

__all__ = ["main"]
