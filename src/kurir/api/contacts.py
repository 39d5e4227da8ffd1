"""Contacts (Alat WA's customers).

``POST /customer/create`` checks every customer before storing any, and
reports the faulty ones all at once, as a broadcast does its receivers.
"""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from kurir.api.body import query_cursor, query_limit
from kurir.api.broadcast_build import invalid_response
from kurir.api.broadcast_requests import CustomerCreateRequest, convert_bulk
from kurir.api.broadcast_types import (
    CustomerCreatedResponse,
    CustomerData,
    CustomerDeletedResponse,
    CustomerListResponse,
)
from kurir.api.context import ApiContext, ok
from kurir.api.errors import ApiError
from kurir.clock import now_ms
from kurir.domain.contacts import MAX_NAME, MAX_OPTION, contact_text, group_name, yes_no
from kurir.domain.errors import ValidationError
from kurir.domain.receivers import Invalid, read_phone
from kurir.store import contacts as store_contacts
from kurir.store.broadcast_records import NewContact


class ContactRoutes:
    """The contact handlers of one API process."""

    def __init__(self, api: ApiContext) -> None:
        self._api = api

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/customer/create", self.create, methods=["POST"]),
            Route("/customer/list", self.list, methods=["GET"]),
            Route("/customer/{phone}", self.delete, methods=["DELETE"]),
        ]

    async def create(self, request: Request) -> Response:
        api = self._api
        account_id = await api.account_id(request)
        body = convert_bulk(await api.fields(request), CustomerCreateRequest)
        if not body.customers:
            raise ValidationError("customers must hold at least one customer")
        group = group_name(body.group)
        international_only = not yes_no(
            "generate_prefix_number", body.generate_prefix_number, default=True
        )
        keep_existing = yes_no("filter_duplicate", body.filter_duplicate, default=True)
        region = api.settings.default_region
        new: dict[str, NewContact] = {}
        invalid: list[Invalid] = []
        duplicates = 0
        for index, customer in enumerate(body.customers):
            raw = str(customer.phone)
            try:
                phone = read_phone(raw, region, international_only=international_only)
                fields = {"name": contact_text("name", customer.name, MAX_NAME)}
                for n in range(1, 8):
                    name = f"opt{n}"
                    fields[name] = contact_text(name, getattr(customer, name), MAX_OPTION)
            except ValidationError as error:
                invalid.append(Invalid(index, raw, error.message))
                continue
            if phone in new:
                duplicates += 1
                continue
            new[phone] = NewContact(phone=phone, **fields)
        if invalid and not yes_no("skip_invalid", body.skip_invalid, default=False):
            return invalid_response(invalid, item="customers")
        if not new:
            raise ValidationError("customers holds no valid customer")
        stored = await api.store.write(
            store_contacts.store_contacts,
            account_id=account_id,
            group=group,
            new=list(new.values()),
            update_existing=not keep_existing,
            now=now_ms(),
        )
        return ok(
            CustomerCreatedResponse(
                total_customer=str(stored.created + stored.updated),
                group=group or None,
                total_updated=stored.updated,
                total_duplicate=duplicates + stored.duplicates,
                total_invalid=len(invalid),
            )
        )

    async def list(self, request: Request) -> Response:
        api = self._api
        account_id = await api.account_id(request)
        limit = query_limit(request)
        raw_group = request.query_params.get("group")
        found = await api.store.read(
            store_contacts.list_contacts,
            account_id=account_id,
            group=group_name(raw_group) if raw_group is not None else None,
            limit=limit,
            before=query_cursor(request),
        )
        return ok(
            CustomerListResponse(
                data=[
                    CustomerData(
                        phone=contact.phone,
                        **contact.fields(),
                        group=contact.group or None,
                        opted_out=contact.opted_out,
                        created_at=api.iso(contact.created_at),
                    )
                    for contact in found
                ],
                next_cursor=str(found[-1].id) if len(found) == limit else None,
            )
        )

    async def delete(self, request: Request) -> Response:
        api = self._api
        account_id = await api.account_id(request)
        phone = read_phone(
            request.path_params["phone"], api.settings.default_region, international_only=False
        )
        raw_group = request.query_params.get("group")
        deleted = await api.store.write(
            store_contacts.delete_contacts,
            account_id=account_id,
            phone=phone,
            group=group_name(raw_group) if raw_group is not None else None,
        )
        if deleted == 0:
            raise ApiError(404, f"customer {phone} not found")
        return ok(CustomerDeletedResponse(phone=phone, deleted=deleted))
