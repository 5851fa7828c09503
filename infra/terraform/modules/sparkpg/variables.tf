# ---------------------------------------------------------------------------------------------
# General
# ---------------------------------------------------------------------------------------------
variable "name_prefix" {
  description = "Prefix of every name this module creates (role, applications, bucket, security group, log group)."
  type        = string
  default     = "sparkpg"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 characters of lower-case letters, digits and '-', starting with a letter (it becomes part of an S3 bucket name)."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------
# Network (seed sections 1 and 6)
# ---------------------------------------------------------------------------------------------
variable "vpc_id" {
  description = "VPC of the EMR Serverless application, the VPC endpoints and the database."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  description = "Private subnets of the EMR Serverless application (several per availability zone are fine). The interface VPC endpoints take one per zone (see endpoint_subnet_ids)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must hold at least one subnet id (subnet-...)."
  }
}

variable "create_security_group" {
  description = "Create the EMR Serverless application's security group in vpc_id. false: use security_group_id."
  type        = bool
  default     = true
}

variable "security_group_id" {
  description = "An existing security group for the EMR Serverless application (with create_security_group = false)."
  type        = string
  default     = null

  validation {
    condition     = var.security_group_id == null || can(regex("^sg-[0-9a-f]+$", coalesce(var.security_group_id, "x")))
    error_message = "security_group_id must look like sg-0123456789abcdef0, or be null."
  }

  validation {
    condition     = var.create_security_group || var.security_group_id != null
    error_message = "create_security_group = false needs the existing group in security_group_id."
  }
}

variable "create_security_group_rules" {
  description = "Add the seed's rules to the EMR security group: all traffic from itself, and all egress. Set false if the group already has them (a VPC's default security group does), since AWS rejects duplicate rules."
  type        = bool
  default     = true
}

variable "egress_cidr_ipv4" {
  description = "Destination of the EMR security group's egress rule (seed: all outbound traffic)."
  type        = string
  default     = "0.0.0.0/0"

  validation {
    condition     = can(cidrhost(var.egress_cidr_ipv4, 0))
    error_message = "egress_cidr_ipv4 must be an IPv4 CIDR block such as 0.0.0.0/0 or 10.0.0.0/16."
  }
}

variable "create_database_ingress_rule" {
  description = "Give database_security_group_id an ingress rule for connection.port from the EMR security group. false: no rule (for example when the database shares the EMR security group, whose self rule already admits it)."
  type        = bool
  default     = true
}

variable "database_security_group_id" {
  description = "Security group of the PostgreSQL database (RDS/Aurora); needed with create_database_ingress_rule."
  type        = string
  default     = null

  validation {
    condition     = var.database_security_group_id == null || can(regex("^sg-[0-9a-f]+$", coalesce(var.database_security_group_id, "x")))
    error_message = "database_security_group_id must look like sg-0123456789abcdef0, or be null."
  }

  validation {
    condition     = !var.create_database_ingress_rule || var.database_security_group_id != null
    error_message = "create_database_ingress_rule = true needs the database's security group in database_security_group_id."
  }
}

variable "create_logs_endpoint" {
  description = "Create the interface VPC endpoint for CloudWatch Logs (private DNS), so jobs in private subnets can write logs."
  type        = bool
  default     = true
}

variable "create_secretsmanager_endpoint" {
  description = "Create the interface VPC endpoint for Secrets Manager (private DNS), so jobs in private subnets can read the credentials."
  type        = bool
  default     = true
}

variable "logs_endpoint_id" {
  description = "An existing CloudWatch Logs interface endpoint (vpce-...) in vpc_id, with private DNS, to use instead of creating one. AWS allows one private-DNS endpoint per service and VPC, so in a VPC that already has one (the infrastructure note's vpce-0f5bee5beccb281d8) creating another fails. When set, create_logs_endpoint is ignored and the module only adds HTTPS from the EMR security group to the endpoint's security groups (create_endpoint_ingress_rules)."
  type        = string
  default     = null

  validation {
    condition     = var.logs_endpoint_id == null || can(regex("^vpce-[0-9a-f]+$", coalesce(var.logs_endpoint_id, "x")))
    error_message = "logs_endpoint_id must look like vpce-0f5bee5beccb281d8 (aws ec2 describe-vpc-endpoints --filters Name=vpc-id,Values=<vpc_id>), or be null."
  }
}

variable "secretsmanager_endpoint_id" {
  description = "An existing Secrets Manager interface endpoint (vpce-...) in vpc_id, with private DNS, to use instead of creating one (see logs_endpoint_id; the note's is vpce-0bc8e399a2bfa1009)."
  type        = string
  default     = null

  validation {
    condition     = var.secretsmanager_endpoint_id == null || can(regex("^vpce-[0-9a-f]+$", coalesce(var.secretsmanager_endpoint_id, "x")))
    error_message = "secretsmanager_endpoint_id must look like vpce-0bc8e399a2bfa1009 (aws ec2 describe-vpc-endpoints --filters Name=vpc-id,Values=<vpc_id>), or be null."
  }
}

variable "create_endpoint_ingress_rules" {
  description = "For endpoints given by id (logs_endpoint_id, secretsmanager_endpoint_id): add an ingress rule for HTTPS (tcp/443) from the EMR security group to each of the endpoint's security groups, except the EMR security group itself (its self rule admits it). The rules are the module's own: destroy removes them and nothing else. false: the groups already admit the jobs."
  type        = bool
  default     = true
}

variable "create_s3_endpoint" {
  description = "Create the S3 gateway VPC endpoint on s3_route_table_ids, so jobs in private subnets reach S3 without NAT."
  type        = bool
  default     = false
}

variable "s3_route_table_ids" {
  description = "Route tables of the private subnets, for the S3 gateway endpoint."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.s3_route_table_ids : can(regex("^rtb-[0-9a-f]+$", r))])
    error_message = "s3_route_table_ids must hold route table ids (rtb-...)."
  }

  validation {
    condition     = !var.create_s3_endpoint || length(var.s3_route_table_ids) > 0
    error_message = "create_s3_endpoint = true needs at least one route table in s3_route_table_ids."
  }
}

variable "endpoint_subnet_ids" {
  description = "Subnets of the interface VPC endpoints, at most one per availability zone (AWS refuses two in one zone). null: one of subnet_ids per availability zone, the lowest subnet id of each zone."
  type        = list(string)
  default     = null

  validation {
    condition     = var.endpoint_subnet_ids == null || try(length(var.endpoint_subnet_ids) > 0 && alltrue([for s in var.endpoint_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))]), false)
    error_message = "endpoint_subnet_ids must be null or a non-empty list of subnet ids (subnet-...), one per availability zone."
  }
}

variable "endpoint_security_group_ids" {
  description = "Security groups of the interface endpoints; they must admit HTTPS (443) from the EMR security group. null: the EMR security group, whose self rule admits it."
  type        = list(string)
  default     = null

  validation {
    condition     = var.endpoint_security_group_ids == null || try(length(var.endpoint_security_group_ids) > 0, false)
    error_message = "endpoint_security_group_ids must be null or a non-empty list."
  }
}

# ---------------------------------------------------------------------------------------------
# IAM (seed section 2)
# ---------------------------------------------------------------------------------------------
variable "create_execution_role" {
  description = "Create the EMR Serverless execution role, trusted by emr-serverless.amazonaws.com. false: use execution_role_arn. Either way the module attaches its inline policies (see manage_execution_role_policies)."
  type        = bool
  default     = true
}

variable "execution_role_arn" {
  description = "An existing EMR Serverless execution role (with create_execution_role = false)."
  type        = string
  default     = null

  validation {
    condition     = var.execution_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", coalesce(var.execution_role_arn, "x")))
    error_message = "execution_role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), or null."
  }

  validation {
    condition     = var.create_execution_role || var.execution_role_arn != null
    error_message = "create_execution_role = false needs the existing role in execution_role_arn."
  }
}

variable "execution_role_name" {
  description = "Name of the execution role the module creates. null: <name_prefix>-emr-serverless-execution."
  type        = string
  default     = null
}

variable "manage_execution_role_policies" {
  description = "Attach the module's inline policies (sparkpg-<name_prefix>-secrets, -s3, -logs) to the execution role, also when it is an existing role. Their names never collide with a role's own policies (such as EMRServerlessS3Policy)."
  type        = bool
  default     = true
}

variable "additional_policy_arns" {
  description = "Managed policies to attach to the execution role as well (the seed's role also had AWSGlueServiceRole for the Glue catalog)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.additional_policy_arns : can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", p))])
    error_message = "additional_policy_arns must hold IAM policy ARNs."
  }
}

variable "secret_prefix" {
  description = "Name prefix of the secrets the jobs may read (the policy sparkpg-<name_prefix>-secrets grants secretsmanager:GetSecretValue/DescribeSecret on <prefix>*)."
  type        = string
  default     = "spark/postgres/"

  validation {
    condition     = can(regex("^[A-Za-z0-9/_+=.@-]+/$", var.secret_prefix))
    error_message = "secret_prefix must be a non-empty secret-name path ending in '/' (no wildcards), such as spark/postgres/."
  }
}

variable "secret_kms_key_arn" {
  description = "KMS key that encrypts the secret (a customer managed key). When set, the module encrypts the secret it creates with it and lets the role decrypt through Secrets Manager. null: the AWS managed key aws/secretsmanager."
  type        = string
  default     = null

  validation {
    condition     = var.secret_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.secret_kms_key_arn))
    error_message = "secret_kms_key_arn must be a KMS key ARN, or null."
  }
}

variable "job_log_prefix" {
  description = "Key prefix in the artifacts bucket for the jobs' S3 logs (s3MonitoringConfiguration.logUri); jobs may write there."
  type        = string
  default     = "logs/"

  validation {
    condition     = can(regex("^[^/*?][^*?]*/$", var.job_log_prefix))
    error_message = "job_log_prefix must be a relative key prefix ending in '/' without wildcards, such as logs/."
  }
}

variable "bundle_prefix" {
  description = "Key prefix in the artifacts bucket where `sparkpg deploy` puts the job bundle (output bundle_root); settings.spark.emr_bundle_uri names its manifests/latest.json."
  type        = string
  default     = "bundle/"

  validation {
    condition     = can(regex("^[^/*?][^*?]*/$", var.bundle_prefix))
    error_message = "bundle_prefix must be a relative key prefix ending in '/' without wildcards, such as bundle/."
  }
}

variable "s3_writable_prefixes" {
  description = "More key prefixes in the artifacts bucket that jobs may write and delete (besides job_log_prefix). Everything in the bucket is readable."
  type        = list(string)
  default     = ["output/"]

  validation {
    condition     = alltrue([for p in var.s3_writable_prefixes : can(regex("^[^/*?][^*?]*/$", p))])
    error_message = "s3_writable_prefixes must be key prefixes ending in '/' without wildcards."
  }
}

# ---------------------------------------------------------------------------------------------
# EMR Serverless (seed section 3)
# ---------------------------------------------------------------------------------------------
variable "postgres_application_name" {
  description = "Name of the PostgreSQL-enabled application. null: <name_prefix>-postgres."
  type        = string
  default     = null
}

variable "release_label" {
  description = "EMR release of the applications. emr-7.x runs Python 3.9 and Spark 3.5."
  type        = string
  default     = "emr-7.0.0"

  validation {
    condition     = can(regex("^emr-(spark-)?[0-9]+\\.[0-9]+\\.[0-9]+$", var.release_label))
    error_message = "release_label must look like emr-7.0.0."
  }
}

variable "architecture" {
  description = "CPU architecture of the workers: X86_64 or ARM64 (decides which Python wheels a job environment needs)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.architecture)
    error_message = "architecture must be X86_64 or ARM64."
  }
}

variable "initial_capacity" {
  description = "Pre-initialised workers of the PostgreSQL application, by type (Driver, Executor). {} for none."
  type = map(object({
    worker_count = number
    cpu          = string
    memory       = string
    disk         = optional(string)
  }))
  default = {
    Driver   = { worker_count = 1, cpu = "2 vCPU", memory = "4 GB", disk = "20 GB" }
    Executor = { worker_count = 2, cpu = "4 vCPU", memory = "8 GB", disk = "20 GB" }
  }

  validation {
    condition     = alltrue([for k in keys(var.initial_capacity) : contains(["Driver", "Executor"], k)])
    error_message = "initial_capacity keys must be Driver or Executor."
  }

  validation {
    condition = alltrue([for c in values(var.initial_capacity) :
      c.worker_count >= 1 && floor(c.worker_count) == c.worker_count
      && can(regex("^[0-9]+ vCPU$", c.cpu)) && can(regex("^[0-9]+ GB$", c.memory))
      && (c.disk == null || can(regex("^[0-9]+ GB$", coalesce(c.disk, "x"))))
    ])
    error_message = "initial_capacity entries need a whole worker_count >= 1, cpu like \"2 vCPU\", memory and disk like \"4 GB\"."
  }
}

variable "maximum_capacity" {
  description = "Upper limit of the application's total resources across all workers."
  type = object({
    cpu    = string
    memory = string
    disk   = optional(string)
  })
  default = { cpu = "400 vCPU", memory = "1000 GB", disk = "400000 GB" }

  validation {
    condition = (
      can(regex("^[0-9]+ vCPU$", var.maximum_capacity.cpu)) && can(regex("^[0-9]+ GB$", var.maximum_capacity.memory))
      && (var.maximum_capacity.disk == null || can(regex("^[0-9]+ GB$", coalesce(var.maximum_capacity.disk, "x"))))
    )
    error_message = "maximum_capacity needs cpu like \"400 vCPU\", memory and disk like \"1000 GB\"."
  }
}

variable "auto_start" {
  description = "Start the application automatically when a job is submitted."
  type        = bool
  default     = true
}

variable "auto_stop_idle_timeout_minutes" {
  description = "Stop the application after this many idle minutes (seed: 15). null: never stop automatically."
  type        = number
  default     = 15

  validation {
    condition     = var.auto_stop_idle_timeout_minutes == null || try(var.auto_stop_idle_timeout_minutes >= 1 && var.auto_stop_idle_timeout_minutes <= 10080, false)
    error_message = "auto_stop_idle_timeout_minutes must be between 1 and 10080 (7 days), or null."
  }
}

variable "create_plain_application" {
  description = "Also create a plain application without pre-initialised capacity or VPC access (settings.spark.emr_application_id, for jobs that read no PostgreSQL)."
  type        = bool
  default     = false
}

variable "plain_application_name" {
  description = "Name of the plain application. null: <name_prefix>-spark."
  type        = string
  default     = null
}

variable "emr_application_id" {
  description = "An existing plain application for settings.spark.emr_application_id when create_plain_application is false. null: the PostgreSQL application's id."
  type        = string
  default     = null

  validation {
    condition     = var.emr_application_id == null || !var.create_plain_application
    error_message = "emr_application_id and create_plain_application = true exclude each other."
  }
}

# ---------------------------------------------------------------------------------------------
# S3 (seed section 4)
# ---------------------------------------------------------------------------------------------
variable "create_bucket" {
  description = "Create the artifacts bucket (versioned, encrypted, private, TLS only). false: use the existing bucket bucket_name."
  type        = bool
  default     = true
}

variable "bucket_name" {
  description = "Name of the artifacts bucket. null with create_bucket: <name_prefix>-artifacts-<account>-<region>."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 lower-case letters, digits, '.', '-')."
  }

  validation {
    condition     = var.create_bucket || var.bucket_name != null
    error_message = "create_bucket = false needs the existing bucket's name in bucket_name."
  }
}

variable "bucket_kms_key_arn" {
  description = "KMS key for the default encryption of the created bucket. null: SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "force_destroy_bucket" {
  description = "Let terraform destroy delete a created bucket that still holds objects (for test environments)."
  type        = bool
  default     = false
}

variable "jdbc_jar_source" {
  description = "Local path of the PostgreSQL JDBC JAR to upload (for example ~/.m2/repository/org/postgresql/postgresql/42.7.13/postgresql-42.7.13.jar)."
  type        = string

  validation {
    condition     = endswith(var.jdbc_jar_source, ".jar")
    error_message = "jdbc_jar_source must be the path of a .jar file."
  }
}

variable "jdbc_jar_key" {
  description = "S3 key of the uploaded JAR. null: jars/<file name>."
  type        = string
  default     = null

  validation {
    condition     = var.jdbc_jar_key == null || can(regex("^[^/].*\\.jar$", coalesce(var.jdbc_jar_key, "x")))
    error_message = "jdbc_jar_key must be a relative key ending in .jar, such as jars/postgresql-42.7.13.jar."
  }
}

# ---------------------------------------------------------------------------------------------
# Secrets Manager and the connection (seed sections 5.1 and 7)
# ---------------------------------------------------------------------------------------------
variable "connection" {
  description = "The PostgreSQL connection written to settings.json: name, host (the cluster's reader endpoint, say), port, database; auth_method user_password (the secret's credentials) or iam (docs/auth.md: a token per connection for username, no secret; grant rds-db:connect with iam_database_users), and for iam the TLS settings ssl_mode (require, verify-ca, verify-full) and ssl_root_cert (the RDS CA bundle's path on the workers)."
  type = object({
    name          = optional(string, "aurora")
    host          = string
    port          = optional(number, 5432)
    database      = optional(string, "postgres")
    auth_method   = optional(string, "user_password")
    username      = optional(string)
    ssl_mode      = optional(string)
    ssl_root_cert = optional(string)
  })

  validation {
    condition     = contains(["user_password", "iam"], var.connection.auth_method)
    error_message = "connection.auth_method must be user_password or iam (docs/auth.md), not ${var.connection.auth_method}."
  }

  validation {
    condition = (
      var.connection.auth_method == "iam"
      ? can(regex("^[A-Za-z_][A-Za-z0-9_$]{0,62}$", var.connection.username))
      : var.connection.username == null && var.connection.ssl_mode == null && var.connection.ssl_root_cert == null
    )
    error_message = "connection.auth_method = iam needs connection.username, the database user (letters, digits, '_', '$'; max 63); username, ssl_mode and ssl_root_cert are for iam only (with user_password the user comes from the secret)."
  }

  validation {
    condition     = var.connection.ssl_mode == null || contains(["require", "verify-ca", "verify-full"], coalesce(var.connection.ssl_mode, "require"))
    error_message = "connection.ssl_mode must be require, verify-ca or verify-full (RDS refuses IAM logins without TLS), or null (require)."
  }

  validation {
    condition     = var.connection.auth_method != "iam" || !var.create_secret
    error_message = "connection.auth_method = iam has no secret: set create_secret = false (and leave postgres_username and postgres_password unset)."
  }

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_-]{0,62}$", var.connection.name))
    error_message = "connection.name must start with a letter or '_' and hold only letters, digits, '_' and '-' (max 63)."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$", var.connection.host))
    error_message = "connection.host must be a bare host name or IP address (no scheme, port or path)."
  }

  validation {
    condition     = var.connection.port >= 1 && var.connection.port <= 65535 && floor(var.connection.port) == var.connection.port
    error_message = "connection.port must be a whole number between 1 and 65535."
  }
}

variable "create_secret" {
  description = "Create the secret <secret_prefix><connection.name> from postgres_username and postgres_password. false: use the existing secret_arn (for example the RDS-managed master secret)."
  type        = bool
  default     = true
}

variable "secret_arn" {
  description = "An existing secret holding the credentials (with create_secret = false); the execution role may read it even outside secret_prefix."
  type        = string
  default     = null

  validation {
    condition     = var.secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", coalesce(var.secret_arn, "x")))
    error_message = "secret_arn must be a Secrets Manager secret ARN, or null."
  }

  # IAM matches a secret's ARN exactly: a partial ARN (without the "-" and six random characters
  # Secrets Manager appends to every secret's ARN) in the role's policy never matches, and jobs get
  # AccessDeniedException.
  validation {
    condition     = var.secret_arn == null || can(regex("-[A-Za-z0-9]{6}$", coalesce(var.secret_arn, "x")))
    error_message = "secret_arn = ${coalesce(var.secret_arn, "null")} must be the secret's full ARN, ending in '-' and the six characters Secrets Manager appends (such as ...:secret:spark/postgres/aurora-e9d9d867-9Bxwrf): an IAM policy naming a partial ARN never matches the secret. Get it with: aws secretsmanager describe-secret --secret-id <name> --query ARN --output text."
  }

  validation {
    condition     = var.create_secret || var.secret_arn != null || var.connection.auth_method == "iam"
    error_message = "create_secret = false needs the existing secret in secret_arn (or connection.auth_method = iam, which needs no secret)."
  }
}

variable "secret_name" {
  description = "Name of the secret the module creates. null: <secret_prefix><connection.name>. It must start with secret_prefix, or the jobs may not read it."
  type        = string
  default     = null

  validation {
    condition     = var.secret_name == null || startswith(coalesce(var.secret_name, "x"), var.secret_prefix)
    error_message = "secret_name must start with secret_prefix, which the execution role's secrets policy is scoped to."
  }
}

variable "postgres_username" {
  description = "User name stored in the created secret. Ignored with create_secret = false."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = !var.create_secret || try(length(var.postgres_username) > 0, false)
    error_message = "postgres_username is required when the module creates the secret (create_secret = true)."
  }
}

variable "postgres_password" {
  description = "Password stored in the created secret. Ignored with create_secret = false. It ends up in the Terraform state: keep the state encrypted."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = !var.create_secret || try(length(var.postgres_password) > 0, false)
    error_message = "postgres_password is required when the module creates the secret (create_secret = true)."
  }
}

variable "secret_recovery_window_in_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once; 7-30 otherwise)."
  type        = number
  default     = 30

  validation {
    condition     = var.secret_recovery_window_in_days == 0 || (var.secret_recovery_window_in_days >= 7 && var.secret_recovery_window_in_days <= 30)
    error_message = "secret_recovery_window_in_days must be 0 or between 7 and 30."
  }
}

variable "iam_database_users" {
  description = "Database users the execution role may log in as with IAM database authentication: an inline policy sparkpg-<name_prefix>-rds-connect allowing rds-db:connect on arn:<partition>:rds-db:<region>:<account>:dbuser:<cluster_resource_id>/<user>. cluster_resource_id is the cluster's resource id (aws rds describe-db-clusters --db-cluster-identifier <name> --query 'DBClusters[0].DbClusterResourceId'), not its name. [] grants nothing."
  type = list(object({
    cluster_resource_id = string
    user                = string
  }))
  default = []

  validation {
    condition     = alltrue([for u in var.iam_database_users : can(regex("^cluster-[A-Z0-9]+$", u.cluster_resource_id))])
    error_message = "iam_database_users[*].cluster_resource_id must be a cluster's resource id such as cluster-ABCDEFGHIJKL01234 (not the cluster's name); got ${join(", ", [for u in var.iam_database_users : u.cluster_resource_id])}. Get it with: aws rds describe-db-clusters --db-cluster-identifier <name> --query 'DBClusters[0].DbClusterResourceId' --output text."
  }

  validation {
    condition     = alltrue([for u in var.iam_database_users : can(regex("^[A-Za-z_][A-Za-z0-9_$]{0,62}$", u.user))])
    error_message = "iam_database_users[*].user must be a database user name (letters, digits, '_', '$'; max 63; no wildcards)."
  }
}

variable "supervisor_arn" {
  description = "ARN of the supervisor agent runtime, copied to settings.spark.supervisor_arn (it is not created here). null: null in settings.json."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------------------------
# CloudWatch Logs
# ---------------------------------------------------------------------------------------------
variable "create_log_group" {
  description = "Create the CloudWatch log group of the jobs' driver and executor logs. false: it exists (or the role may create it)."
  type        = bool
  default     = true
}

variable "log_group_name" {
  description = "CloudWatch log group of the jobs' logs. null: /aws/emr-serverless/<name_prefix>."
  type        = string
  default     = null

  validation {
    condition     = var.log_group_name == null || can(regex("^[A-Za-z0-9_./#-]{1,512}$", coalesce(var.log_group_name, "x")))
    error_message = "log_group_name must be a valid CloudWatch log group name."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the created log group."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of CloudWatch's retention values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "log_group_kms_key_arn" {
  description = "KMS key that encrypts the created log group. null: CloudWatch's default encryption."
  type        = string
  default     = null
}
