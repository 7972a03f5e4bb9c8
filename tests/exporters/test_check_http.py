"""HTTP checks against a real loopback server: every outcome lands in its category."""

from __future__ import annotations

import pytest

from exporters.checks.base import Boundaries


@pytest.mark.parametrize(
    ("path", "category"),
    [
        ("/ok", None),
        ("/401", "authentication"),
        ("/403", "authentication"),
        ("/500", "connection"),
        ("/503", "connection"),
        ("/429", "resource_exhaustion"),
        ("/504", "timeout"),
        ("/close", "connection"),
        ("/hangup", "connection"),
        ("/garbage", "data_integrity"),
    ],
)
def test_status_and_transport_failures_are_classified(http_target, check, run, path, category):
    outcome = run(check(kind="http", url=http_target.url(path)))
    assert outcome.category == category, outcome.message


def test_status_code_is_published_even_when_the_run_fails(http_target, check, run):
    outcome = run(check(kind="http", url=http_target.url("/403")))
    assert outcome.value("probe_http_status_code") == 403


def test_expected_status_list_overrides_2xx(http_target, check, run):
    outcome = run(check(kind="http", url=http_target.url("/401"), expect_status=[401]))
    assert outcome.category is None


def test_slow_target_is_a_timeout(http_target, check, run):
    outcome = run(check(kind="http", url=http_target.url("/slow")), timeout=0.3)
    assert outcome.category == "timeout"


def test_closed_port_is_a_connection_failure(closed_port, check, run):
    outcome = run(check(kind="http", url=f"http://127.0.0.1:{closed_port}/"))
    assert outcome.category == "connection"


def test_unresolvable_name_is_a_connection_failure(check, run):
    outcome = run(check(kind="http", url="http://no-such-host.invalid/"))
    assert outcome.category == "connection"


def test_invalid_json_is_a_data_integrity_failure(http_target, check, run):
    probe = check(kind="http", url=http_target.url("/badjson"), expect_json={"field": "status"})
    outcome = run(probe)
    assert outcome.category == "data_integrity"
    assert "invalid JSON" in outcome.message


def test_json_field_value_is_checked(http_target, check, run):
    ok = check(
        kind="http", url=http_target.url("/ok"), expect_json={"field": "status", "equals": "ok"}
    )
    bad = check(
        kind="http",
        url=http_target.url("/degraded"),
        expect_json={"field": "status", "equals": "ok"},
    )
    missing = check(kind="http", url=http_target.url("/ok"), expect_json={"field": "queue.size"})
    assert run(ok).category is None
    assert run(bad).category == "data_integrity"
    assert run(missing).category == "data_integrity"


def test_body_regex(http_target, check, run):
    assert run(check(kind="http", url=http_target.url("/ok"), body_regex='"ok"')).category is None
    outcome = run(check(kind="http", url=http_target.url("/ok"), body_regex="healthy"))
    assert outcome.category == "data_integrity"


def test_bearer_token_comes_from_the_environment(http_target, check, run):
    probe = check(kind="http", url=http_target.url("/auth"), auth={"bearer_token_env": "T"})
    assert run(probe, ctx=Boundaries(env={"T": "s3cret"})).category is None
    assert run(probe, ctx=Boundaries(env={"T": "wrong"})).category == "authentication"
    assert run(probe, ctx=Boundaries(env={})).category == "authentication"


def test_valid_certificate_expiry_is_published(tls_target, certs, check, run):
    probe = check(kind="http", url=tls_target.url("/ok"), ca_file=str(certs.ca_file))
    outcome = run(probe)
    assert outcome.category is None, outcome.message
    assert outcome.value("probe_ssl_earliest_cert_expiry") == certs.valid_not_after


def test_unknown_issuer_is_an_authentication_failure(tls_target, check, run):
    outcome = run(check(kind="http", url=tls_target.url("/ok")))
    assert outcome.category == "authentication"


def test_expired_certificate_fails_and_still_reports_its_expiry(
    expired_tls_target, certs, check, run
):
    probe = check(kind="http", url=expired_tls_target.url("/ok"), ca_file=str(certs.ca_file))
    outcome = run(probe)
    assert outcome.category == "authentication"
    assert "expired" in outcome.message
    assert outcome.value("probe_ssl_earliest_cert_expiry") == certs.expired_not_after


def test_verification_can_be_turned_off(expired_tls_target, certs, check, run):
    probe = check(kind="http", url=expired_tls_target.url("/ok"), verify_tls=False)
    outcome = run(probe)
    assert outcome.category is None, outcome.message
    assert outcome.value("probe_ssl_earliest_cert_expiry") == certs.expired_not_after


def test_redirects_are_followed_to_the_final_answer(http_target, check, run):
    probe = check(
        kind="http",
        url=http_target.url("/redirect"),
        expect_json={"field": "status", "equals": "ok"},
    )
    outcome = run(probe)
    assert outcome.category is None, outcome.message
    assert outcome.value("probe_http_status_code") == 200


def test_redirects_can_be_left_unfollowed(http_target, check, run):
    probe = check(
        kind="http", url=http_target.url("/redirect"), follow_redirects=False, expect_status=[302]
    )
    outcome = run(probe)
    assert outcome.category is None, outcome.message
    assert outcome.value("probe_http_status_code") == 302


def test_redirect_loop_is_a_classified_failure(http_target, check, run):
    assert run(check(kind="http", url=http_target.url("/loop"))).category == "connection"
