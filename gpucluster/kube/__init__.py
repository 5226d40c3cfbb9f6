"""The Kubernetes layer, cloud-neutral: node pools, add-on values, queues, storage objects and the job template."""
