"""The harvest-job custom resource's handler, one package inside the Lambda asset (entry point: ``index.handler``).

Modules: ``clock`` (time), ``aws_clients`` (boto3 clients), ``logs`` (the logger), ``cfn_event`` (the request's
accessors), ``cfn_response`` (the answer PUT), ``crhelper_resource`` (crhelper's CfnResource with its traps closed),
``lifecycle`` (create/update/delete/poll), ``mediapackage_v2`` and ``mediapackage_v1`` (the service flavours).
"""
