"""Image vulnerability and SBOM reports (Trivy, Grype, CycloneDX, SPDX, OpenVEX) joined to the
workloads that run each image, and ranked by what kubeward knows about them."""
