"""Create the Reps and Managers groups with their model permissions.

Row scoping (a rep sees only their own customers) is enforced by the
QuerySets the views use; these permissions say what each role may do at all.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MANAGER_MODELS = {
    "customers": ["customer", "product", "purchase", "riskflag"],
    "touchpoints": ["checkupplan", "planstep", "touchpoint"],
    "feedback": ["survey", "surveyinvitation", "surveyresponse"],
    "aftersales": ["outboxemail"],
}
REP_PERMISSIONS = {
    "customers": {
        "customer": ["view", "change"],
        "purchase": ["view", "add"],
        "product": ["view"],
        "riskflag": ["view", "change"],
    },
    "touchpoints": {"checkupplan": ["view"], "planstep": ["view"], "touchpoint": ["view", "add", "change"]},
    "feedback": {"surveyresponse": ["view"], "surveyinvitation": ["view"]},
}


def create_roles(apps, schema_editor):
    for app_label in ("auth", "aftersales", "customers", "touchpoints", "feedback"):
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    managers, _ = Group.objects.get_or_create(name="Managers")
    perms = []
    for app_label, models in MANAGER_MODELS.items():
        perms += Permission.objects.filter(content_type__app_label=app_label, content_type__model__in=models)
    managers.permissions.set(perms)

    reps, _ = Group.objects.get_or_create(name="Reps")
    perms = []
    for app_label, models in REP_PERMISSIONS.items():
        for model, actions in models.items():
            codenames = [f"{action}_{model}" for action in actions]
            perms += Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
    reps.permissions.set(perms)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Managers", "Reps"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("aftersales", "0002_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("customers", "0002_initial"),
        ("touchpoints", "0001_initial"),
        ("feedback", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
