"""Writing an API as a template that deploys it (``apigw-ws export``).

:mod:`.sam` writes an AWS SAM template, :mod:`.resources` the resources it
declares besides the routes; :mod:`.terraform` writes a Terraform
configuration, laid out by :mod:`.hcl`. Importing this package imports
nothing else.
"""

from __future__ import annotations

__all__: list[str] = []
