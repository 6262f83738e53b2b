"""What the construct and its Lambda handler agree on: standard library only, so the handler can carry it.

- :mod:`.spec` — the custom resources' property names, attributes, limits and their validation;
- :mod:`.services` — the two MediaPackage flavours: resource types, IAM prefixes, service principals, job events;
- :mod:`.iam_policy` — whether IAM policy documents allow a request (resource and identity-based policies alike).

The Lambda asset carries this folder as it is (``mediapackage_harvest/contract/``, under an implicit namespace
package ``mediapackage_harvest``), so the handler imports it the ordinary way and nothing else of the library.
"""
