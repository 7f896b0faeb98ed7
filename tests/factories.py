"""factory-boy factories for every model the tests build."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from aftersales.core.roles import MANAGERS, REPS
from aftersales.mail.models import OutboxEmail
from customers.models import Customer, Product, Purchase, RiskFlag
from feedback.models import Survey, SurveyInvitation, SurveyResponse
from touchpoints.models import CheckupPlan, PlanStep, TouchPoint


def _join_group(default: str | None) -> factory.PostGeneration:
    """Post-generation hook adding the user to a role group (``role=`` overrides).

    A subclass cannot override a post_generation hook with a plain value (factory_boy
    would pass it to the model as a field), hence one hook per default.
    """

    def join(user, create, extracted, **kwargs):
        name = extracted or default
        if create and name:
            # get_or_create: transactional tests flush the groups the data migration made.
            user.groups.add(Group.objects.get_or_create(name=name)[0])

    return factory.PostGeneration(join)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")

    role = _join_group(None)


class RepFactory(UserFactory):
    role = _join_group(REPS)


class ManagerFactory(UserFactory):
    role = _join_group(MANAGERS)


class CheckupPlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CheckupPlan

    name = factory.Sequence(lambda n: f"Plan {n}")


class PlanStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanStep

    plan = factory.SubFactory(CheckupPlanFactory)
    position = factory.Sequence(lambda n: n)
    offset_days = 7
    objective = "Check the installation works"


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Faker("name")
    company = factory.Faker("company")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    owner = factory.SubFactory(RepFactory)


class PurchaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Purchase

    customer = factory.SubFactory(CustomerFactory)
    product = factory.SubFactory(ProductFactory)
    ordered_at = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=30))
    amount = 1000


class TouchPointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TouchPoint

    customer = factory.SubFactory(CustomerFactory)
    assignee = factory.LazyAttribute(lambda tp: tp.customer.owner)
    due_at = factory.LazyFunction(timezone.now)
    objective = "Check in"


class RiskFlagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RiskFlag

    customer = factory.SubFactory(CustomerFactory)
    reason = "gone_quiet"


class SurveyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Survey

    name = factory.Sequence(lambda n: f"Survey {n}")


class SurveyInvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SurveyInvitation

    survey = factory.SubFactory(SurveyFactory)
    customer = factory.SubFactory(CustomerFactory)
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    send_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyAttribute(lambda i: i.send_at + dt.timedelta(days=28))


class SurveyResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SurveyResponse

    invitation = factory.SubFactory(SurveyInvitationFactory)
    customer = factory.LazyAttribute(lambda r: r.invitation.customer)
    nps = 9
    csat = 5


class OutboxEmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutboxEmail

    to = factory.Sequence(lambda n: f"recipient{n}@example.com")
    subject = "Hello"
    body_text = "Hello there"
