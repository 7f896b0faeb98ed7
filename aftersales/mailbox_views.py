from django.http import HttpResponse


def mailbox_list(request, *a, **k):
    return HttpResponse("TODO")


mailbox_detail = mailbox_html = mailbox_list
