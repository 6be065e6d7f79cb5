"""The cost budget, as a small stack of its own: build/budget.yaml.

Emits MonthlyBudget (AWS::Budgets::Budget) with parameters BatchStackName,
MonthlyBudgetUsd, AlertEmail and AlertTopicArn.

Why a separate stack: CloudFormation checks every resource type against the
region before it evaluates conditions, and AWS::Budgets::Budget does not exist
in 20 regions (eu-north-1, af-south-1, both GovCloud regions, ...). Inside the
batch template, even behind a false condition, it made create-stack fail there
("Unrecognized resource types"). Budgets are account-wide (cost data is global),
so one budget stack in a region that has the type (us-east-1) watches a batch
stack in any region: it filters costs on the batch stack's ``cfgen-stack`` cost
allocation tag. The template's own cfn-lint metadata pins its region, so
``cfn-lint build/*.yaml`` with every region still passes.
https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-managing-costs.html
https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/custom-tags.html
"""

from __future__ import annotations

from typing import Any

from troposphere import And, Equals, If, Not, NoValue, Parameter, Ref, Sub, Template
from troposphere.budgets import (
    Budget,
    BudgetData,
    Notification,
    NotificationWithSubscribers,
    Spend,
    Subscriber,
)

from cfgen.tags import STACK_TAG

#: Where the budget stack is deployed and linted (a region with AWS::Budgets::Budget).
BUDGET_REGION = "us-east-1"
FILE_NAME = "budget.yaml"
LOGICAL_ID = "MonthlyBudget"
#: Notify at this share of the budget actually spent, and of the month's forecast.
ACTUAL_PERCENT = 80
FORECAST_PERCENT = 100

HAS_EMAIL = "HasAlertEmail"
HAS_TOPIC = "HasAlertTopic"


def build_budget_template() -> Template:
    t = Template(
        Description=(
            "cfgen budget: a monthly cost budget on one cfgen batch stack's cost allocation"
            " tag, deployed once per account in " + BUDGET_REGION
        )
    )
    t.set_version("2010-09-09")
    t.set_metadata(
        {
            # AWS::Budgets::Budget exists in us-east-1 (not in every region).
            "cfn-lint": {"config": {"regions": [BUDGET_REGION]}},
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {
                        "Label": {"default": "Budget"},
                        "Parameters": [
                            "BatchStackName",
                            "MonthlyBudgetUsd",
                            "AlertEmail",
                            "AlertTopicArn",
                        ],
                    }
                ]
            },
        }
    )
    t.add_parameter(
        Parameter(
            "BatchStackName",
            Type="String",
            AllowedPattern=r"^[a-zA-Z][-a-zA-Z0-9]{0,127}$",
            ConstraintDescription="must be a CloudFormation stack name",
            Description=(
                "Name of the cfgen batch stack (any region) whose cost this budget watches:"
                f" the value of its {STACK_TAG} tag, which must be activated as a cost"
                " allocation tag in the Billing console."
            ),
        )
    )
    amount = t.add_parameter(
        Parameter(
            "MonthlyBudgetUsd",
            Type="Number",
            MinValue="1",
            MaxValue="1000000000",
            ConstraintDescription="must be a whole number of USD from 1 to 1000000000",
            Description="Monthly cost budget in USD.",
        )
    )
    email = t.add_parameter(
        Parameter(
            "AlertEmail",
            Type="String",
            Default="",
            MaxLength="254",
            AllowedPattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
            ConstraintDescription="must be empty or an e-mail address",
            Description="E-mail address told by AWS Budgets (no confirmation mail). Empty = none.",
        )
    )
    topic = t.add_parameter(
        Parameter(
            "AlertTopicArn",
            Type="String",
            Default="",
            AllowedPattern=r"^$|^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$",
            ConstraintDescription="must be empty or an SNS topic ARN",
            Description=(
                "The batch stack's AlertTopicArn output (its topic policy lets AWS Budgets of"
                " this account publish). Empty = e-mail only."
            ),
        )
    )
    t.add_condition(HAS_EMAIL, Not(Equals(Ref(email), "")))
    t.add_condition(HAS_TOPIC, Not(Equals(Ref(topic), "")))
    t.add_rule(
        "SomebodyIsTold",
        {
            "Assertions": [
                {
                    "Assert": {
                        "Fn::Not": [And(Equals(Ref(email), ""), Equals(Ref(topic), "")).to_dict()]
                    },
                    "AssertDescription": "Set AlertEmail, AlertTopicArn or both.",
                }
            ]
        },
    )

    def subscribers() -> list[Any]:
        return [
            If(HAS_TOPIC, Subscriber(SubscriptionType="SNS", Address=Ref(topic)), NoValue),
            If(HAS_EMAIL, Subscriber(SubscriptionType="EMAIL", Address=Ref(email)), NoValue),
        ]

    def notify(kind: str, percent: int) -> NotificationWithSubscribers:
        return NotificationWithSubscribers(
            Notification=Notification(
                NotificationType=kind,
                ComparisonOperator="GREATER_THAN",
                Threshold=percent,
                ThresholdType="PERCENTAGE",
            ),
            Subscribers=subscribers(),
        )

    t.add_resource(
        Budget(
            LOGICAL_ID,
            Budget=BudgetData(
                BudgetType="COST",
                TimeUnit="MONTHLY",
                BudgetLimit=Spend(Amount=Ref(amount), Unit="USD"),
                # Cost allocation tags appear as "user:<key>$<value>" in cost filters.
                CostFilters={"TagKeyValue": [Sub("user:" + STACK_TAG + "$${BatchStackName}")]},
            ),
            NotificationsWithSubscribers=[
                notify("ACTUAL", ACTUAL_PERCENT),
                notify("FORECASTED", FORECAST_PERCENT),
            ],
        )
    )
    return t


HEADER = (
    "# Generated by cfgen: the budget stack (src/cfgen/budget.py) -- do not edit.\n"
    "# Regenerate: python -m cfgen build    (check drift: python -m cfgen check)\n"
    f"# Deploy once per batch stack, in {BUDGET_REGION}; see docs/deploy.md#budget.\n"
)


def render_budget() -> str:
    """The text of build/budget.yaml."""
    from cfgen.render import dump_yaml

    return HEADER + dump_yaml(build_budget_template().to_dict())
