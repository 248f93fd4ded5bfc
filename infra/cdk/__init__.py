"""The AWS deployment as code (AWS CDK in Python): ``make synth`` writes the CloudFormation
template to ``cdk.out/``; ``infra/README.md`` says how to deploy it."""
