"""Update keeps the job when it already is what the properties describe, else replaces it; Delete cancels a
running job and nothing else."""

from __future__ import annotations

from typing import Any

from tests.handler.fakes import Harness, create_params, derived_name, job, job_arn, key, with_properties

OLD_NAME = "ClipHarvestJob5E2C9B1A-3d1f0c2b9a87"  # the job behind the sample events' PhysicalResourceId


def with_old_properties(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    event["OldResourceProperties"].update(changes)
    return event


def test_a_tags_only_update_retags_the_job_in_place(harness: Harness) -> None:
    event = with_old_properties(
        with_properties(harness.event("update"), Tags={"team": "video", "cost-center": "42"}),
        Tags={"team": "media", "legacy": "yes"},
    )
    harness.expect_get(OLD_NAME, "COMPLETED", tags={"team": "media", "legacy": "yes"})
    harness.mediapackage.add_response(
        "tag_resource", {}, {"ResourceArn": job_arn(OLD_NAME), "Tags": {"team": "video", "cost-center": "42"}}
    )
    harness.mediapackage.add_response("untag_resource", {}, {"ResourceArn": job_arn(OLD_NAME), "TagKeys": ["legacy"]})
    harness.expect_get(OLD_NAME, "COMPLETED", tags={"team": "video", "cost-center": "42"}, etag="etag-2")

    harness.invoke(event)

    response = harness.response(event)
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == event["PhysicalResourceId"] == job_arn(OLD_NAME)
    assert response["Data"]["ETag"] == "etag-2"


def test_a_lifecycle_only_update_makes_no_change(harness: Harness) -> None:
    event = with_properties(harness.event("update"), WaitForCompletion="false", Timeout="900", ServiceTimeout="900")
    harness.expect_get(OLD_NAME, "COMPLETED")

    harness.invoke(event)

    response = harness.response(event)
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", job_arn(OLD_NAME))
    assert response["Data"]["Status"] == "COMPLETED"


def test_a_rollback_to_the_jobs_own_configuration_keeps_the_job(harness: Harness) -> None:
    event = with_old_properties(
        harness.event("update"),
        Destination={"S3Destination": {"BucketName": "harvest-clips", "DestinationPath": "clips/failed-change"}},
    )
    harness.expect_get(OLD_NAME, "COMPLETED")  # its configuration is the new (rolled-back) properties'

    harness.invoke(event)

    response = harness.response(event)
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", job_arn(OLD_NAME))


def test_a_configuration_change_replaces_the_job(harness: Harness) -> None:
    destination = {"S3Destination": {"BucketName": "harvest-clips", "DestinationPath": "clips/take-2"}}
    event = with_properties(harness.event("update"), Destination=destination)
    new_name = derived_name(event)
    assert new_name != OLD_NAME
    harness.expect_get(OLD_NAME, "COMPLETED")
    harness.expect_preflight(event)
    harness.mediapackage.add_response(
        "create_harvest_job", job(new_name, "QUEUED", destination_path="clips/take-2"), create_params(event)
    )
    harness.expect_get(new_name, "COMPLETED", destination_path="clips/take-2")

    harness.invoke(event)

    response = harness.response(event)
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == job_arn(new_name)  # new id: CloudFormation deletes the old job
    assert response["Data"]["HarvestJobName"] == new_name


def test_a_replacement_under_the_same_fixed_name_fails_before_creating(harness: Harness) -> None:
    destination = {"S3Destination": {"BucketName": "harvest-clips", "DestinationPath": "clips/take-2"}}
    event = with_properties(harness.event("update"), Destination=destination, HarvestJobName=OLD_NAME)
    harness.expect_get(OLD_NAME, "COMPLETED")

    harness.invoke(event)

    response = harness.response(event)
    assert response["Status"] == "FAILED"
    assert response["Reason"].endswith("channel live/main: change or remove harvest_job_name")
    assert response["PhysicalResourceId"] == job_arn(OLD_NAME)


def test_an_invalid_update_fails_and_keeps_the_old_id(harness: Harness) -> None:
    event = with_properties(harness.event("update"), Timeout="43201")

    harness.invoke(event)

    response = harness.response(event)
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith("Invalid properties (Timeout): Timeout must be 60 to 43200 seconds")
    assert response["PhysicalResourceId"] == job_arn(OLD_NAME)


def test_deleting_a_running_job_cancels_it(harness: Harness) -> None:
    event = harness.event("delete")
    harness.expect_get(OLD_NAME, "IN_PROGRESS")
    harness.mediapackage.add_response("cancel_harvest_job", {}, key(OLD_NAME))

    harness.invoke(event)

    response = harness.response(event)
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", job_arn(OLD_NAME))
    assert harness.clock.elapsed() == 0  # no crhelper sleep_on_delete


def test_deleting_a_completed_job_leaves_it_alone(harness: Harness) -> None:
    event = harness.event("delete")
    harness.expect_get(OLD_NAME, "COMPLETED")

    harness.invoke(event)

    assert harness.response(event)["Status"] == "SUCCESS"


def test_deleting_a_job_that_is_gone_succeeds(harness: Harness) -> None:
    event = harness.event("delete")
    harness.mediapackage.add_client_error(
        "get_harvest_job",
        service_error_code="ResourceNotFoundException",
        service_message="Harvest job not found",
        http_status_code=404,
        expected_params=key(OLD_NAME),
    )

    harness.invoke(event)

    assert harness.response(event)["Status"] == "SUCCESS"


def test_deleting_after_a_failed_create_makes_no_call(harness: Harness) -> None:
    placeholder = "failed-create:ClipHarvestJob5E2C9B1A:6f1c1e0e-5a7e-4a8e-9d55-0c3b5f0a1c01"
    event = harness.event("delete", PhysicalResourceId=placeholder)

    harness.invoke(event)

    response = harness.response(event)
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", placeholder)


def test_the_create_after_a_replacement_starts_from_the_update_request(harness: Harness) -> None:
    """The new job's token and name come from the Update's RequestId, so a redelivered Update reuses them."""
    event = with_properties(harness.event("update"), WaitForCompletion="false", Description="second take")
    new_name = derived_name(event)
    harness.expect_get(OLD_NAME, "COMPLETED")
    params = create_params(event)
    assert params["Description"] == "second take"
    assert params["ClientToken"] != create_params(harness.event("create"))["ClientToken"]
    harness.expect_preflight(event)
    harness.mediapackage.add_response("create_harvest_job", job(new_name, "QUEUED"), params)

    harness.invoke(event)

    response = harness.response(event)
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", job_arn(new_name))
    assert response["Data"]["Status"] == "QUEUED"
