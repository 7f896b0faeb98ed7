"""Managers edit check-up plans in the app: ordered steps, all or nothing; reps cannot reach the pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import Product
from tests.factories import CheckupPlanFactory, PlanStepFactory, ProductFactory, TouchPointFactory
from touchpoints.models import Channel, CheckupPlan, PlanStep

pytestmark = pytest.mark.django_db


def step(offset, objective, channel=Channel.CALL, *, step_id="", order="", survey=False, delete=False) -> dict:
    fields = {"offset_days": str(offset), "channel": channel, "objective": objective, "step_id": str(step_id)}
    fields["ORDER"] = str(order)
    if survey:
        fields["survey_follows"] = "on"
    if delete:
        fields["DELETE"] = "on"
    return fields


def plan_post(steps: list[dict], *, initial: int = 0, **plan_fields) -> dict:
    data = {
        "name": "Machine plan",
        "description": "After a machine is delivered",
        "skip_weekends": "on",
        "renewal_offsets_days": "60, 14",
        "active": "on",
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(initial),
        "steps-MIN_NUM_FORMS": "1",
        "steps-MAX_NUM_FORMS": "30",
        "save": "1",
    } | plan_fields
    for index, fields in enumerate(steps):
        data |= {f"steps-{index}-{key}": value for key, value in fields.items()}
    return {key: value for key, value in data.items() if value is not None}


def existing_steps(plan: CheckupPlan, **changes) -> list[dict]:
    """The edit page's steps as the browser would send them back, with ``changes`` by step pk."""
    rows = []
    for number, current in enumerate(plan.steps.order_by("position"), start=1):
        row = step(current.offset_days, current.objective, current.channel, step_id=current.pk, order=number)
        row |= changes.get(current.pk, {})
        rows.append(row)
    return rows


def steps_of(plan: CheckupPlan) -> list[tuple[int, int, str]]:
    return list(plan.steps.order_by("position").values_list("position", "offset_days", "objective"))


# --- Creating -----------------------------------------------------------------------


def test_a_manager_creates_a_plan_with_three_ordered_steps_and_makes_it_a_products_default(mary_client):
    machine, other = ProductFactory(name="Espresso machine"), ProductFactory(name="Grinder")
    data = plan_post(
        [
            step(3, "Check the installation works"),
            step(30, "Show the three features they asked about", Channel.VISIT, survey=True),
            step(90, "Descale it together", Channel.MEETING),
        ],
        products=[str(machine.pk)],
    )

    response = mary_client.post(reverse("plan_create"), data, follow=True)

    plan = CheckupPlan.objects.get()
    assert response.redirect_chain == [(reverse("plan_edit", args=[plan.pk]), 302)]
    assert "Plan “Machine plan” saved." in response.content.decode()
    assert (plan.name, plan.skip_weekends, plan.active, plan.renewal_offsets_days) == (
        "Machine plan",
        True,
        True,
        [60, 14],
    )
    assert steps_of(plan) == [
        (1, 3, "Check the installation works"),
        (2, 30, "Show the three features they asked about"),
        (3, 90, "Descale it together"),
    ]
    assert list(plan.steps.order_by("position").values_list("channel", "survey_follows")) == [
        (Channel.CALL, False),
        (Channel.VISIT, True),
        (Channel.MEETING, False),
    ]
    assert Product.objects.get(pk=machine.pk).default_plan == plan
    assert Product.objects.get(pk=other.pk).default_plan is None


def test_the_edit_page_shows_the_plan_and_its_steps(mary_client):
    plan = CheckupPlanFactory(name="Subscription plan", renewal_offsets_days=[30, 7])
    PlanStepFactory(plan=plan, position=1, offset_days=14, objective="First month review")

    content = mary_client.get(reverse("plan_edit", args=[plan.pk])).content.decode()

    assert "Subscription plan" in content
    assert 'value="30, 7"' in content
    assert "First month review" in content


def test_the_plan_list_shows_plans_with_their_steps_and_products(mary_client):
    plan = CheckupPlanFactory(name="Machine plan")
    PlanStepFactory(plan=plan, position=1)
    PlanStepFactory(plan=plan, position=2)
    ProductFactory(name="Espresso machine", default_plan=plan)
    CheckupPlanFactory(name="Old plan", active=False)

    response = mary_client.get(reverse("plan_list"))

    content = response.content.decode()
    assert "Machine plan" in content and "Old plan" in content and "Espresso machine" in content
    assert [(row[0].name, row[0].step_count) for row in response.context["rows"]] == [
        ("Machine plan", 2),
        ("Old plan", 0),
    ]
    assert reverse("plan_list") in mary_client.get(reverse("dashboard")).content.decode(), "linked from the navbar"


# --- Editing ------------------------------------------------------------------------


@pytest.fixture
def plan():
    plan = CheckupPlanFactory(name="Machine plan", renewal_offsets_days=[60, 14])
    for position, (offset, objective) in enumerate([(3, "Install"), (30, "Features"), (90, "Descale")], start=1):
        PlanStepFactory(plan=plan, position=position, offset_days=offset, objective=objective)
    return plan


def test_reordering_and_removing_steps_keeps_the_remaining_steps_identity(mary_client, plan):
    install, features, descale = plan.steps.order_by("position")
    # A touch point made from the "Descale" step must still point at it afterwards.
    touchpoint = TouchPointFactory(plan_step=descale)
    rows = existing_steps(plan, **{})
    rows[0] |= {"DELETE": "on"}  # remove "Install"
    rows[1] |= {"ORDER": "2"}  # "Features" after…
    rows[2] |= {"ORDER": "1", "objective": "Descale it together"}  # …"Descale", edited

    response = mary_client.post(reverse("plan_edit", args=[plan.pk]), plan_post(rows, initial=3))

    assert response.status_code == 302
    assert steps_of(plan) == [(1, 90, "Descale it together"), (2, 30, "Features")]
    assert set(plan.steps.values_list("pk", flat=True)) == {features.pk, descale.pk}
    touchpoint.refresh_from_db()
    assert touchpoint.plan_step_id == descale.pk


def test_adding_a_step_to_an_existing_plan(mary_client, plan):
    rows = existing_steps(plan) + [step(1, "Welcome call", order="1")]
    rows[0]["ORDER"] = "2"
    rows[1]["ORDER"] = "3"
    rows[2]["ORDER"] = "4"

    mary_client.post(reverse("plan_edit", args=[plan.pk]), plan_post(rows, initial=3))

    assert [row[1:] for row in steps_of(plan)] == [
        (1, "Welcome call"),
        (3, "Install"),
        (30, "Features"),
        (90, "Descale"),
    ]


def test_the_add_a_step_button_shows_one_more_empty_step_and_saves_nothing(mary_client, plan):
    data = plan_post(existing_steps(plan), initial=3, name="Renamed") | {"add_step": "1"}
    del data["save"]

    response = mary_client.post(reverse("plan_edit", args=[plan.pk]), data)

    assert response.status_code == 200
    assert len(response.context["formset"].forms) == 4
    assert 'name="steps-3-objective"' in response.content.decode()
    plan.refresh_from_db()
    assert plan.name == "Machine plan"
    assert len(steps_of(plan)) == 3


@pytest.mark.parametrize("offset", ["-1", "3651", "soon"])
def test_an_invalid_offset_is_reported_next_to_the_field_and_nothing_is_saved(mary_client, plan, offset):
    before = steps_of(plan)
    rows = existing_steps(plan)
    rows[0]["DELETE"] = "on"
    rows[1]["offset_days"] = offset

    response = mary_client.post(reverse("plan_edit", args=[plan.pk]), plan_post(rows, initial=3, name="Renamed"))

    assert response.status_code == 200
    assert response.context["formset"].forms[1].errors["offset_days"]
    assert 'id="error_1_id_steps-1-offset_days"' in response.content.decode()
    plan.refresh_from_db()
    assert plan.name == "Machine plan"
    assert steps_of(plan) == before


def test_an_invalid_new_plan_saves_nothing(mary_client):
    data = plan_post([step(3, "Install"), step(4000, "Too late")], renewal_offsets_days="60, soon")

    response = mary_client.post(reverse("plan_create"), data)

    assert response.status_code == 200
    content = response.content.decode()
    assert "Write whole numbers of days separated by commas, such as 60, 14." in content
    assert "Ensure this value is less than or equal to 3650." in content
    assert not CheckupPlan.objects.exists()
    assert not PlanStep.objects.exists()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([step(3, "", order="1")], "This field is required."),
        ([step(3, "Install", delete=True)], "A plan needs at least one step."),
    ],
)
def test_a_plan_needs_steps_with_objectives(mary_client, rows, message):
    response = mary_client.post(reverse("plan_create"), plan_post(rows))

    assert message in response.content.decode()
    assert not CheckupPlan.objects.exists()


def test_a_duplicate_plan_name_is_refused(mary_client, plan):
    response = mary_client.post(reverse("plan_create"), plan_post([step(3, "Install")], name="Machine plan"))

    assert response.context["form"].errors["name"]
    assert CheckupPlan.objects.count() == 1


def test_a_step_of_another_plan_cannot_be_smuggled_in(mary_client, plan):
    other = CheckupPlanFactory(name="Other plan")
    foreign = PlanStepFactory(plan=other, position=1, offset_days=5, objective="Not yours")
    rows = existing_steps(plan) + [step(5, "Hijacked", step_id=foreign.pk, order="4")]

    response = mary_client.post(reverse("plan_edit", args=[plan.pk]), plan_post(rows, initial=3, name="Renamed"))

    assert response.status_code == 200
    assert "The steps changed while you were editing" in response.content.decode()
    foreign.refresh_from_db()
    assert (foreign.plan_id, foreign.objective) == (other.pk, "Not yours")
    plan.refresh_from_db()
    assert plan.name == "Machine plan"


def test_unticking_a_product_removes_the_plan_as_its_default(mary_client, plan):
    product = ProductFactory(default_plan=plan)

    mary_client.post(reverse("plan_edit", args=[plan.pk]), plan_post(existing_steps(plan), initial=3, products=[]))

    assert Product.objects.get(pk=product.pk).default_plan is None


# --- Access -------------------------------------------------------------------------


def test_reps_cannot_reach_the_plan_pages_and_change_nothing(alice_client, plan):
    before = (CheckupPlan.objects.count(), steps_of(plan))
    edit = reverse("plan_edit", args=[plan.pk])

    for url in (reverse("plan_list"), reverse("plan_create"), edit):
        assert alice_client.get(url).status_code == 403
    assert (
        alice_client.post(reverse("plan_create"), plan_post([step(3, "Install")], name="Rep plan")).status_code == 403
    )
    assert alice_client.post(edit, plan_post(existing_steps(plan), initial=3, name="Renamed")).status_code == 403

    plan.refresh_from_db()
    assert plan.name == "Machine plan"
    assert (CheckupPlan.objects.count(), steps_of(plan)) == before
    assert reverse("plan_list") not in alice_client.get(reverse("my_day")).content.decode()


def test_anonymous_visitors_are_sent_to_the_login_page(client, plan):
    response = client.get(reverse("plan_edit", args=[plan.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
