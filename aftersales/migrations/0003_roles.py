"""Create the Reps and Managers groups with their model permissions.

The permission map lives in aftersales.roles; the same function runs after
every migrate (post_migrate), so editing the map there is enough.
"""

from django.db import migrations


def create_roles(apps, schema_editor):
    from aftersales.core.roles import roles_sync

    roles_sync(apps)


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
