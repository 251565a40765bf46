terraform {
  encryption {
    # The KMS endpoint comes from AWS_ENDPOINT_URL_KMS.
    key_provider "aws_kms" "trent" {
      kms_key_id                  = "alias/tofu-state"
      key_spec                    = "AES_256"
      region                      = "us-east-1"
      skip_credentials_validation = true

      endpoints {
        iam = "http://127.0.0.1:8080"
        sts = "http://127.0.0.1:8080"
      }
    }

    method "aes_gcm" "trent" {
      keys = key_provider.aws_kms.trent
    }

    state {
      method   = method.aes_gcm.trent
      enforced = true
    }

    plan {
      method   = method.aes_gcm.trent
      enforced = true
    }
  }
}

resource "terraform_data" "example" {
  input = "kept in encrypted state"
}

output "example" {
  value = terraform_data.example.output
}
