"""Real-browser journey: a manager uploads Excel's "Unicode Text"; the page follows the worker through the
check and the import, refreshing itself when each is done."""

from __future__ import annotations

import pytest
from django.utils import timezone

from aftersales.imports.jobs import CHECK_TASK, COMMIT_TASK
from aftersales.imports.models import ImportJob
from aftersales.imports.tasks import import_check_task, import_commit_task
from customers.models import Customer
from tests.celery_worker import empty_queue, route_to_queue
from tests.conftest import PASSWORD
from tests.factories import CheckupPlanFactory, PlanStepFactory, ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUEUE = "aftersales-test-browser-import"


@pytest.fixture
def import_queue(settings, tmp_path):
    """The tasks the pages queue wait on a queue of their own; this test plays the worker."""
    settings.VAR_DIR = tmp_path
    empty_queue(QUEUE)
    route_to_queue((CHECK_TASK, COMMIT_TASK), QUEUE)
    yield
    route_to_queue((CHECK_TASK, COMMIT_TASK), None)
    empty_queue(QUEUE)


def test_a_manager_uploads_unicode_text_and_the_page_follows_the_worker(
    page, live_server, mary, import_queue, tmp_path
):
    plan = CheckupPlanFactory()
    PlanStepFactory(plan=plan, position=1, offset_days=3)
    ProductFactory(sku="BOILER-1", default_plan=plan)
    today = timezone.now().date().isoformat()
    text = "\ufeffCustomer ID\tCustomer name\tOrder number\tSKU\tOrder date\tTotal\r\n"
    text += f"C1\tJosé Muñoz\tO1\tBOILER-1\t{today}\t10\r\nC2\tДмитрий Иванов\tO2\tBOILER-1\t{today}\t12\r\n"
    upload = tmp_path / "sales.txt"
    upload.write_bytes(text.encode("utf-16-le"))

    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill("mary")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/customers/import/")
    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_role("button", name="Upload and check").click()

    page.get_by_text("Waiting for a worker to read the file…").wait_for()
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.UPLOADED

    assert import_check_task(job.pk) == ImportJob.Status.READY  # the worker's turn
    page.get_by_text("No problems found.").wait_for()  # the page polled, then reloaded itself
    page.get_by_role("button", name="Import 2 rows").click()
    page.get_by_text("Waiting for a worker to pick the import up…").wait_for()

    assert import_commit_task(job.pk) == ImportJob.Status.DONE
    page.get_by_text("Imported: 2 new and 0 updated customers").wait_for()
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["José Muñoz", "Дмитрий Иванов"]
