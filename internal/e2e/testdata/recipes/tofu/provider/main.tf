terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_metadata_api_check     = true

  endpoints {
    kms = "http://127.0.0.1:8080"
    iam = "http://127.0.0.1:8080"
    sts = "http://127.0.0.1:8080"
  }
}

resource "aws_kms_key" "app" {
  description             = "app"
  deletion_window_in_days = 7
}

resource "aws_kms_alias" "app" {
  name          = "alias/app"
  target_key_id = aws_kms_key.app.key_id
}

output "key_arn" {
  value = aws_kms_key.app.arn
}
