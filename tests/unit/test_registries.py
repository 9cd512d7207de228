"""Registry names: every accepted form, every lookalike refused, grouping one call per region."""

import pytest

from ecr_ci.core import registries
from ecr_ci.errors import ConfigError

ACCEPTED = [
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com", "aws", "us-east-1", "standard"),
    ("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com:443/v2/app/manifests/1", "aws", "eu-west-1", "standard"),
    ("123456789012.DKR.ECR.US-EAST-1.AMAZONAWS.COM", "aws", "us-east-1", "standard"),
    ("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "aws-us-gov", "us-gov-west-1", "fips"),
    ("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", "aws", "us-east-1", "fips"),
    ("123456789012.dkr.ecr.us-gov-east-1.amazonaws.com", "aws-us-gov", "us-gov-east-1", "standard"),
    ("123456789012.dkr-ecr.us-east-1.on.aws", "aws", "us-east-1", "dualstack"),
    ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "aws-cn", "cn-north-1", "standard"),
    ("123456789012.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn", "aws-cn", "cn-northwest-1", "dualstack"),
    ("123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu", "aws-eusc", "eusc-de-east-1", "standard"),
    ("123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", "aws-iso", "us-iso-east-1", "standard"),
    ("123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov", "aws-iso-b", "us-isob-east-1", "standard"),
    ("123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk", "aws-iso-e", "eu-isoe-west-1", "standard"),
    ("123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov", "aws-iso-f", "us-isof-south-1", "standard"),
    ("oci://123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/charts", "aws", "ap-southeast-2", "standard"),
]


@pytest.mark.parametrize(("name", "partition", "region", "variant"), ACCEPTED)
def test_accepts_every_documented_form(name, partition, region, variant):
    r = registries.parse(name)
    assert (r.partition, r.region, r.variant, r.public) == (partition, region, variant, False)
    assert r.account == "123456789012"
    assert r.host == registries.strip_host(name)


def test_public_registries_always_use_us_east_1():
    for host, variant in (("public.ecr.aws", "standard"), ("https://ecr-public.aws.com/", "dualstack")):
        r = registries.parse(host, "eu-west-1")
        assert (r.public, r.region, r.partition, r.variant, r.account) == (True, "us-east-1", "aws", variant, None)


def test_bare_account_ids_keep_leading_zeros_and_take_the_region():
    r = registries.parse("012345678901", "cn-north-1")
    assert r.host == "012345678901.dkr.ecr.cn-north-1.amazonaws.com.cn"
    assert (r.account, r.partition) == ("012345678901", "aws-cn")


REFUSED = [
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example", "not an Amazon ECR registry host"),
    ("evil.example/123456789012.dkr.ecr.us-east-1.amazonaws.com", "not an Amazon ECR registry host"),
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com@evil.example", "not an Amazon ECR registry host"),
    ("vpce-0abc.dkr.ecr.us-east-1.vpce.amazonaws.com", "PrivateLink"),
    ("123456789012.dkr.ecr.cn-north-1.amazonaws.com", "partition aws-cn"),
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com.cn", "partition aws,"),
    ("123456789012.dkr.ecr.mars-east-1.amazonaws.com", "not an AWS region"),
    ("1234567890123.dkr.ecr.us-east-1.amazonaws.com", "not an Amazon ECR registry host"),
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com\u200b", "U+200B ZERO WIDTH SPACE"),
    ("１２３456789012.dkr.ecr.us-east-1.amazonaws.com", "U+FF11 FULLWIDTH DIGIT ONE"),
    ("123456789012.dkr.ecr.us-east-1.amazonaws.co", "not an Amazon ECR registry host"),
    ("docker.io", "not an Amazon ECR registry host"),
    ("12345", "not a 12-digit account ID"),
    ("123456789012", "needs a region"),
    ("", "not an Amazon ECR registry"),
]


@pytest.mark.parametrize(("name", "reason"), REFUSED)
def test_refuses_lookalikes_with_one_clear_line(name, reason):
    with pytest.raises(ConfigError) as e:
        registries.parse(name)
    message = str(e.value)
    assert reason in message
    assert "\n" not in message
    assert message.startswith("registries: ") or message.startswith("region: ")


def test_unknown_region_for_a_bare_account_names_the_region_setting():
    with pytest.raises(ConfigError, match="^region: 'moon-1' is not an AWS region"):
        registries.parse("123456789012", "moon-1")


def test_one_group_per_partition_region_variant():
    regs = registries.parse_all(
        [
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "210987654321.dkr.ecr.us-east-1.amazonaws.com",  # cross-account, same region: same token
            "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",  # FIPS needs its own endpoint
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            "public.ecr.aws",
            "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/again",  # duplicate
        ]
    )
    assert len(regs) == 5
    groups = registries.group(regs)
    assert sorted(groups) == [
        ("aws", "eu-west-1", "standard", False),
        ("aws", "us-east-1", "fips", False),
        ("aws", "us-east-1", "standard", False),
        ("aws", "us-east-1", "standard", True),
    ]
    assert len(groups[("aws", "us-east-1", "standard", False)]) == 2


def test_a_region_shaped_typo_fails_at_once_instead_of_at_dns_time():
    with pytest.raises(ConfigError, match=r"^region: 'us-east-7' is not a region of partition aws that botocore"):
        registries.parse("123456789012", "us-east-7")
    with pytest.raises(ConfigError, match="upgrade boto3"):
        registries.parse("123456789012.dkr.ecr.eu-west-9.amazonaws.com")


@pytest.mark.parametrize(
    ("region", "shaped"),
    [("us-east-1", True), ("us-gov-west-1", True), ("eusc-de-east-1", True), ("us-isob-east-1", True),
     ("aws-global", False), ("aws-cn-global", False), ("us-east-\u0661", False), ("US-east-1", False),
     ("u-east-1", False), ("us-1", False), ("us--1", False), ("us-east-1a", False), ("us-east-", False), ("", False)],
)  # fmt: skip
def test_the_region_shape_is_the_schemas_pattern_in_ascii(region, shaped):
    import re

    from ecr_ci.core.registries import _region_shaped

    assert _region_shaped(region) is shaped
    assert bool(re.fullmatch(r"[a-z]{2,4}(-[a-z]+)+-[0-9]+", region, re.ASCII)) is shaped
