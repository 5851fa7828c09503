# A complete, self-contained setup: a VPC with private subnets and a database security group
# standing in for an existing network and RDS cluster, and the sparkpg module on top. In an
# existing account, pass your own vpc_id, subnet_ids and database_security_group_id instead.

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first availability_zone_count zones are used (by index), so a new zone changes nothing.
  state = "available"
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:Example network; flow logs belong to the account's network baseline.
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true # private DNS of interface endpoints needs both

  tags = { Name = "${var.name_prefix}-example" }
}

# Take away every rule of the VPC's default security group (CIS 5.4); nothing uses it.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_subnet" "private" {
  count = var.availability_zone_count

  vpc_id            = aws_vpc.this.id
  availability_zone = data.aws_availability_zones.available.names[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, count.index)

  tags = { Name = "${var.name_prefix}-private-${count.index}" }
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id
  tags   = { Name = "${var.name_prefix}-private" }
}

resource "aws_route_table_association" "private" {
  count = var.availability_zone_count

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

# Stands in for the security group of the RDS/Aurora cluster.
resource "aws_security_group" "database" {
  #checkov:skip=CKV2_AWS_5:Stands in for the RDS cluster's security group, which is attached outside this example.
  name_prefix = "${var.name_prefix}-database-"
  description = "PostgreSQL database (example)"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name_prefix}-database" }
}

module "sparkpg" {
  source = "../../modules/sparkpg"

  name_prefix = var.name_prefix

  vpc_id                     = aws_vpc.this.id
  subnet_ids                 = aws_subnet.private[*].id
  database_security_group_id = aws_security_group.database.id
  create_s3_endpoint         = true
  s3_route_table_ids         = [aws_route_table.private.id]

  create_plain_application = true

  jdbc_jar_source      = var.jdbc_jar_source
  force_destroy_bucket = var.force_destroy_bucket

  connection = {
    name     = "aurora"
    host     = var.database_host
    port     = 5432
    database = "postgres"
  }
  postgres_username              = var.postgres_username
  postgres_password              = var.postgres_password
  secret_recovery_window_in_days = var.secret_recovery_window_in_days
}
