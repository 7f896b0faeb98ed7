"""Who may use which part of the API, on top of the row scoping every queryset applies."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from aftersales.core.roles import is_manager


class IsManager(BasePermission):
    message = "Only managers may do this."

    def has_permission(self, request, view) -> bool:
        return is_manager(request.user)
