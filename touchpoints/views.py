from django.http import HttpResponse


def my_day(request):
    return HttpResponse("TODO")


dashboard = my_day
