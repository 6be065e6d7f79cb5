"""``cfgen report``: what the jobs of a stack really cost, from the worker's cost ledger.

Modules, in data-flow order:

    records.py   one attempt, parsed from a ledger record (spotworker.ledger) or filled
                 from Batch/ECS/EC2 for jobs that do not run the worker; unreadable
                 records become problems, never exceptions
    pricing.py   Decimal prices: the Spot price history of a type/AZ/hour, or the
                 bundled estimate (labelled); the bundled On-Demand and Fargate tables
    compute.py   per-attempt cost, work redone after a resume and lost to reclaims,
                 totals per array job, queue and share; what `cfgen simulate` predicts
    aws.py       the reads (CloudFormation outputs, S3 ledger, Batch, ECS, EC2 Spot
                 price history) and --put-metrics (CloudWatch PutMetricData)
    output.py    table, CSV, JSON and the --chart PNG
    cli.py       the command line
    readme.py    the README section: a small array job run on the emulator

Money is ``decimal.Decimal`` throughout (exact sums; rounded only for display).
"""
