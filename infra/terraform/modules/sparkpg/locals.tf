locals {
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  tags = merge({ "sparkpg:module" = "sparkpg" }, var.tags)

  # Network: the EMR security group is either created here or given.
  emr_security_group_id = var.create_security_group ? aws_security_group.emr[0].id : var.security_group_id
  endpoint_security_group_ids = (
    var.endpoint_security_group_ids != null ? var.endpoint_security_group_ids : [local.emr_security_group_id]
  )

  # Interface endpoints: reused by id (data.aws_vpc_endpoint.reused), or created with the given
  # subnets, or one application subnet per availability zone (the lowest subnet id of each zone,
  # so the choice is stable).
  create_logs_endpoint           = var.create_logs_endpoint && var.logs_endpoint_id == null
  create_secretsmanager_endpoint = var.create_secretsmanager_endpoint && var.secretsmanager_endpoint_id == null
  create_interface_endpoints     = local.create_logs_endpoint || local.create_secretsmanager_endpoint
  reused_endpoint_ids = {
    for service, id in { logs = var.logs_endpoint_id, secretsmanager = var.secretsmanager_endpoint_id } :
    service => id if id != null
  }
  # The groups of the reused endpoints that need HTTPS from the EMR security group: all of them,
  # except the EMR group itself when it is given (a created group is never one of them).
  reused_endpoint_security_group_ids = var.create_endpoint_ingress_rules ? toset([
    for sg in distinct(flatten([for e in data.aws_vpc_endpoint.reused : tolist(e.security_group_ids)])) :
    sg if var.create_security_group || sg != var.security_group_id
  ]) : toset([])
  endpoint_subnet_candidates = var.endpoint_subnet_ids != null ? var.endpoint_subnet_ids : var.subnet_ids
  endpoint_subnet_zones      = { for s in data.aws_subnet.endpoint_candidates : s.id => s.availability_zone }
  endpoint_subnet_ids = (
    var.endpoint_subnet_ids != null ? var.endpoint_subnet_ids : [
      for zone in sort(distinct(values(local.endpoint_subnet_zones))) :
      sort([for id, z in local.endpoint_subnet_zones : id if z == zone])[0]
    ]
  )
  endpoint_subnets_one_per_zone = (
    var.endpoint_subnet_ids == null
    || length(distinct(values(local.endpoint_subnet_zones))) == length(local.endpoint_subnet_zones)
  )
  endpoint_subnets_error = join("", [
    "endpoint_subnet_ids must hold at most one subnet per availability zone (AWS allows one per zone ",
    "for an interface endpoint); got ${jsonencode(local.endpoint_subnet_zones)}. ",
    "Leave it null to take one of subnet_ids per zone.",
  ])

  # IAM: the execution role is either created here or given by ARN.
  execution_role_name = (
    var.create_execution_role
    ? aws_iam_role.execution[0].name
    : element(split("/", var.execution_role_arn), length(split("/", var.execution_role_arn)) - 1)
  )
  execution_role_arn = var.create_execution_role ? aws_iam_role.execution[0].arn : var.execution_role_arn

  # S3: the artifacts bucket is either created here or given by name.
  bucket_name = (
    var.create_bucket
    ? coalesce(var.bucket_name, "${var.name_prefix}-artifacts-${local.account_id}-${local.region}")
    : var.bucket_name
  )
  bucket_arn = "arn:${local.partition}:s3:::${local.bucket_name}"

  jdbc_jar_key    = coalesce(var.jdbc_jar_key, "jars/${basename(var.jdbc_jar_source)}")
  jdbc_jar_s3_uri = "s3://${local.bucket_name}/${aws_s3_object.jdbc_jar.key}"

  # Secrets Manager: the credentials secret is either created here or given by ARN.
  secret_arn  = var.create_secret ? aws_secretsmanager_secret.postgres[0].arn : var.secret_arn
  secret_name = coalesce(var.secret_name, "${var.secret_prefix}${var.connection.name}")
  secret_prefix_arn = join(":", [
    "arn", local.partition, "secretsmanager", local.region, local.account_id, "secret", "${var.secret_prefix}*"
  ])

  # CloudWatch Logs: the log group of the jobs' driver and executor logs.
  log_group_name = coalesce(var.log_group_name, "/aws/emr-serverless/${var.name_prefix}")
  log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"

  # S3: where the jobs' driver and executor logs go (the role may write there), and the bundle.
  job_log_uri = "s3://${local.bucket_name}/${var.job_log_prefix}"
  bundle_root = "s3://${local.bucket_name}/${trimsuffix(var.bundle_prefix, "/")}"

  # The pre-initialised workers in the shape of GetApplication's initialCapacity, so that a client
  # reads them the same way from settings.json or from the service.
  initial_capacity = {
    for kind, c in var.initial_capacity : kind => {
      workerCount = c.worker_count
      workerConfiguration = merge(
        { cpu = c.cpu, memory = c.memory },
        c.disk == null ? {} : { disk = c.disk },
      )
    }
  }

  postgres_application_name = coalesce(var.postgres_application_name, "${var.name_prefix}-postgres")
  plain_application_name    = coalesce(var.plain_application_name, "${var.name_prefix}-spark")

  # settings.spark.emr_application_id: the plain application if created, else one given, else the
  # PostgreSQL application (it runs jobs without PostgreSQL tables just as well).
  emr_application_id = (
    var.create_plain_application ? aws_emrserverless_application.plain[0].id
    : coalesce(var.emr_application_id, aws_emrserverless_application.postgres.id)
  )
}

locals {
  # An IAM connection's own keys (docs/auth.md): the database user and the TLS settings given.
  iam_connection = {
    for key, value in {
      username      = var.connection.username
      ssl_mode      = var.connection.ssl_mode
      ssl_root_cert = var.connection.ssl_root_cert
    } : key => value if value != null
  }

  # settings.json: the seed's keys (section 5.1), plus what `sparkpg submit` needs to run a job
  # with no other flag (connectors/settings.py SparkSettings): the execution role, the log group
  # and S3 log URI the role may write, the deployed bundle, and the pre-initialised capacity.
  settings = {
    spark = {
      emr_application_id          = local.emr_application_id
      emr_postgres_application_id = aws_emrserverless_application.postgres.id
      supervisor_arn              = var.supervisor_arn
      emr_execution_role_arn      = local.execution_role_arn
      emr_cloudwatch_log_group    = local.log_group_name
      emr_log_uri                 = local.job_log_uri
      emr_bundle_uri              = "${local.bundle_root}/manifests/latest.json"
      emr_initial_capacity        = local.initial_capacity
    }
    postgres = {
      jdbc_driver_path = local.jdbc_jar_s3_uri
      connections = [
        merge(
          {
            name        = var.connection.name
            host        = var.connection.host
            port        = var.connection.port
            database    = var.connection.database
            auth_method = var.connection.auth_method
            enabled     = true
          },
          # The two branches are objects of different shapes; as JSON they are one type.
          jsondecode(var.connection.auth_method == "iam" ? jsonencode(local.iam_connection) : jsonencode({ secret_arn = local.secret_arn })),
        ),
      ]
    }
  }
}
