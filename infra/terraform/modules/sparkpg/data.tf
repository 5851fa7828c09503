# Region, account and partition come from the provider: nothing here names an account.
data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}
