"""The VPC: where the functions, the database and the GPU host live, and who may talk to whom.

Subnets, in two availability zones:

- ``public``: only the NAT gateway.
- ``host``: the GPU host, with a route to the NAT gateway (it installs its driver, pulls
  container images and models).
- ``functions``: the Lambda functions and the GPU host's load balancer. No route out of the VPC
  unless ``FunctionsInternetEgress`` is ``true``; AWS services are reached through endpoints.
- ``data``: the database, never routed anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.cdk.parameters import Parameters

POSTGRES_PORT = 5432
HTTPS_PORT = 443


@dataclass(frozen=True)
class Network:
    vpc: ec2.Vpc
    functions_subnets: ec2.SubnetSelection
    host_subnets: ec2.SubnetSelection
    data_subnets: ec2.SubnetSelection
    endpoints_sg: ec2.SecurityGroup


def build_network(scope: Construct, params: Parameters) -> Network:
    vpc = ec2.Vpc(
        scope,
        "Vpc",
        ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
        max_azs=2,
        # One NAT gateway: the GPU host needs it to install; a second zone's would double the
        # cost for a host that lives in one zone at a time anyway.
        nat_gateways=1,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(
                name="host", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24
            ),
            ec2.SubnetConfiguration(
                name="functions", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22
            ),
            ec2.SubnetConfiguration(
                name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
            ),
        ],
        restrict_default_security_group=True,
    )
    functions = ec2.SubnetSelection(subnet_group_name="functions")
    host = ec2.SubnetSelection(subnet_group_name="host")
    data = ec2.SubnetSelection(subnet_group_name="data")

    # Internet egress for the functions, only when asked for: a default route to the NAT
    # gateway in each functions subnet's route table, created under a condition.
    egress = cdk.CfnCondition(
        scope,
        "FunctionsEgressEnabled",
        expression=cdk.Fn.condition_equals(
            params.functions_internet_egress.value_as_string, "true"
        ),
    )
    nat_id = _nat_gateway_id(vpc)
    for index, subnet in enumerate(vpc.select_subnets(subnet_group_name="functions").subnets):
        route = ec2.CfnRoute(
            scope,
            f"FunctionsEgressRoute{index + 1}",
            route_table_id=subnet.route_table.route_table_id,
            destination_cidr_block="0.0.0.0/0",
            nat_gateway_id=nat_id,
        )
        route.cfn_options.condition = egress

    # Gateway endpoints (free) for DynamoDB and S3, on the functions' route tables; their
    # policies are narrowed to this stack's table and bucket where those are created.
    vpc.add_gateway_endpoint(
        "DynamoDbEndpoint",
        service=ec2.GatewayVpcEndpointAwsService.DYNAMODB,
        subnets=[functions],
    )
    vpc.add_gateway_endpoint(
        "S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[functions]
    )

    endpoints_sg = ec2.SecurityGroup(
        scope,
        "EndpointsSecurityGroup",
        vpc=vpc,
        description="Interface VPC endpoints: HTTPS from the functions and the GPU host only",
        allow_all_outbound=False,
    )
    # Secrets Manager, where the functions read the signing key and the GPU host its token.
    # Private DNS: the usual SDK endpoint name resolves to it from anywhere in the VPC.
    vpc.add_interface_endpoint(
        "SecretsManagerEndpoint",
        service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        subnets=functions,
        security_groups=[endpoints_sg],
        private_dns_enabled=True,
        open=False,
    )
    return Network(vpc, functions, host, data, endpoints_sg)


def _nat_gateway_id(vpc: ec2.Vpc) -> str:
    for subnet in vpc.public_subnets:
        if isinstance(subnet, ec2.PublicSubnet):
            for child in subnet.node.children:
                if isinstance(child, ec2.CfnNatGateway):
                    return child.ref
    raise RuntimeError("the VPC has no NAT gateway")


def security_group(
    scope: Construct, name: str, vpc: ec2.IVpc, description: str
) -> ec2.SecurityGroup:
    """A group that allows nothing out until a rule says so."""
    return ec2.SecurityGroup(
        scope, name, vpc=vpc, description=description, allow_all_outbound=False
    )


def allow(
    source: ec2.SecurityGroup, target: ec2.SecurityGroup, port: int, description: str
) -> None:
    """``source`` may open TCP connections to ``target`` on ``port``: both sides' rules."""
    target.add_ingress_rule(source, ec2.Port.tcp(port), description)
    source.add_egress_rule(target, ec2.Port.tcp(port), description)


def allow_https_out(group: ec2.SecurityGroup, why: str) -> None:
    """HTTPS to any address. What that reaches is decided by routing: the gateway endpoints
    (S3, DynamoDB) are addressed through AWS-managed prefix lists whose ids cannot be known
    offline, and a functions subnet has no route out of the VPC unless egress is enabled."""
    group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS_PORT), why)
