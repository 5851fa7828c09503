# Seed section 6: the EMR security group and its rules; section 1: the VPC endpoints.
#
# A VPC that already has a private-DNS interface endpoint for Logs or Secrets Manager (the
# infrastructure note's) cannot get a second one: AWS refuses it ("private-dns-enabled cannot be
# set because there is already a conflicting DNS domain"). logs_endpoint_id and
# secretsmanager_endpoint_id reuse such endpoints: they are read (data.tf), never changed, and
# only get an HTTPS ingress rule from the EMR security group on their groups (below).
#
# Interface endpoints take at most one subnet per availability zone (AWS answers
# DuplicateSubnetsInSameZone otherwise) and bill per zone and hour: endpoint_subnet_ids, by
# default one application subnet per zone (locals.tf). Their private DNS needs the VPC's DNS
# support and DNS host names (checked on data.aws_vpc.this, data.tf).

resource "aws_security_group" "emr" {
  #checkov:skip=CKV2_AWS_5:Attached to the EMR Serverless application and the VPC endpoints through local.emr_security_group_id, which checkov's graph does not follow.
  count = var.create_security_group ? 1 : 0

  name_prefix = "${var.name_prefix}-emr-"
  description = "EMR Serverless jobs of ${var.name_prefix} (PostgreSQL, VPC endpoints)"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name_prefix}-emr" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "emr_self" {
  count = var.create_security_group_rules ? 1 : 0

  security_group_id            = local.emr_security_group_id
  description                  = "All traffic between members (Spark driver/executors, VPC endpoints)"
  ip_protocol                  = "-1"
  referenced_security_group_id = local.emr_security_group_id
  tags                         = local.tags
}

resource "aws_vpc_security_group_egress_rule" "emr_all" {
  count = var.create_security_group_rules ? 1 : 0

  security_group_id = local.emr_security_group_id
  description       = "All outbound traffic (seed section 6.1)"
  ip_protocol       = "-1"
  cidr_ipv4         = var.egress_cidr_ipv4
  tags              = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "database_from_emr" {
  count = var.create_database_ingress_rule ? 1 : 0

  security_group_id            = var.database_security_group_id
  description                  = "PostgreSQL from the EMR Serverless jobs of ${var.name_prefix}"
  ip_protocol                  = "tcp"
  from_port                    = var.connection.port
  to_port                      = var.connection.port
  referenced_security_group_id = local.emr_security_group_id
  tags                         = local.tags
}

resource "aws_vpc_endpoint" "logs" {
  count = local.create_logs_endpoint ? 1 : 0

  vpc_id              = var.vpc_id
  service_name        = "${data.aws_partition.current.reverse_dns_prefix}.${local.region}.logs"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = local.endpoint_subnet_ids
  security_group_ids  = local.endpoint_security_group_ids
  tags                = merge(local.tags, { Name = "${var.name_prefix}-cloudwatch-logs" })

  lifecycle {
    precondition {
      condition     = local.endpoint_subnets_one_per_zone
      error_message = local.endpoint_subnets_error
    }
  }
}

resource "aws_vpc_endpoint" "secretsmanager" {
  count = local.create_secretsmanager_endpoint ? 1 : 0

  vpc_id              = var.vpc_id
  service_name        = "${data.aws_partition.current.reverse_dns_prefix}.${local.region}.secretsmanager"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = local.endpoint_subnet_ids
  security_group_ids  = local.endpoint_security_group_ids
  tags                = merge(local.tags, { Name = "${var.name_prefix}-secretsmanager" })

  lifecycle {
    precondition {
      condition     = local.endpoint_subnets_one_per_zone
      error_message = local.endpoint_subnets_error
    }
  }
}

resource "aws_vpc_endpoint" "s3" {
  count = var.create_s3_endpoint ? 1 : 0

  vpc_id            = var.vpc_id
  service_name      = "${data.aws_partition.current.reverse_dns_prefix}.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.s3_route_table_ids
  tags              = merge(local.tags, { Name = "${var.name_prefix}-s3" })
}

# Reused endpoints (logs_endpoint_id, secretsmanager_endpoint_id): HTTPS from the EMR security
# group to each of their security groups, except the EMR group itself (its self rule admits it).
resource "aws_vpc_security_group_ingress_rule" "endpoint_https_from_emr" {
  for_each = local.reused_endpoint_security_group_ids

  security_group_id            = each.value
  description                  = "HTTPS to the reused VPC endpoints from the EMR Serverless jobs of ${var.name_prefix}"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = local.emr_security_group_id
  tags                         = local.tags
}
