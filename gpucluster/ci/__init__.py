"""`gpucluster ci`: every stack previewed at the head and at the base of a change, with its diff, cost delta and
policy findings, as one Markdown report, SARIF for code scanning, and Terraform-plan JSON for other scanners."""
