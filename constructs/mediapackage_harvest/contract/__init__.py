"""What the construct and its Lambda handler agree on: standard library only, so the handler can carry it.

- :mod:`.spec` — the custom resources' property names, attributes, limits and their validation;
- :mod:`.services` — the two MediaPackage flavours: resource types, IAM prefixes, service principals, job events;
- :mod:`.resource_policy` — whether a resource policy lets a service principal do an action on a resource.

The Lambda asset carries this folder as it is (``mediapackage_harvest/contract/``, under an implicit namespace
package ``mediapackage_harvest``), so the handler imports it the ordinary way and nothing else of the library.
"""
