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

# Interface endpoints given by id (network.tf): read, checked, never changed.
data "aws_vpc_endpoint" "reused" {
  for_each = local.reused_endpoint_ids

  id = each.value

  lifecycle {
    postcondition {
      condition = (
        self.vpc_id == var.vpc_id
        && self.service_name == "${data.aws_partition.current.reverse_dns_prefix}.${local.region}.${each.key}"
        && self.vpc_endpoint_type == "Interface"
        && self.private_dns_enabled
        && self.state == "available"
      )
      error_message = "${each.key}_endpoint_id = ${each.value} must be an available Interface endpoint for ${data.aws_partition.current.reverse_dns_prefix}.${local.region}.${each.key} in ${var.vpc_id} with private DNS on; it is a ${self.vpc_endpoint_type} endpoint for ${self.service_name} in ${self.vpc_id}, state ${self.state}, private DNS ${self.private_dns_enabled ? "on" : "off"}. Give the id of the right endpoint (aws ec2 describe-vpc-endpoints --filters Name=vpc-id,Values=${var.vpc_id}), or leave it null to create one."
    }
  }
}
