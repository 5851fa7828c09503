# Region, account and partition come from the provider: nothing here names an account.
data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# The interface endpoints (network.tf) need the VPC's DNS attributes and the zones of the subnets.
# Read only when the module creates an interface endpoint.
data "aws_vpc" "this" {
  count = local.create_interface_endpoints ? 1 : 0

  id = var.vpc_id

  lifecycle {
    postcondition {
      condition     = self.enable_dns_support && self.enable_dns_hostnames
      error_message = "VPC ${var.vpc_id} must have enableDnsSupport and enableDnsHostnames turned on: the interface endpoints use private DNS, which needs both (aws ec2 modify-vpc-attribute --vpc-id ${var.vpc_id} --enable-dns-hostnames). Or set create_logs_endpoint and create_secretsmanager_endpoint to false."
    }
  }
}

# By index, not for_each: the ids may be unknown until apply (subnets created in the same run).
data "aws_subnet" "endpoint_candidates" {
  count = local.create_interface_endpoints ? length(local.endpoint_subnet_candidates) : 0

  id = local.endpoint_subnet_candidates[count.index]
}
