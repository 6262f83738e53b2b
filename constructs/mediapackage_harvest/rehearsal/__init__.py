"""The local deploy rehearsal: the unmodified handler against stand-ins for every service it talks to.

CloudFormation's driver, a MediaPackage v2 emulator, moto for EventBridge and a local HTTPS endpoint for the
pre-signed response URLs (:mod:`mediapackage_harvest.rehearsal.cfn_endpoint`) all run on one machine, on a
virtual clock, so a 20-minute harvest rehearses in seconds with the same figures on every run.
"""
