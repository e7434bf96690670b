from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from audit.erasure import forget_number


class Command(BaseCommand):
    help = ("Erase a phone number, in any of its spellings, everywhere the portal holds it "
            "(audit entries, added records, import rows and files), at a person's request.")

    def add_arguments(self, parser):
        parser.add_argument("number", help="the phone number, as the person gives it")
        parser.add_argument("--reference", default="",
                            help="the request's reference (e.g. its case number); required")

    def handle(self, *args, number, reference, **options):
        try:
            report = forget_number(number=number, reference=reference,
                                   actor_username="manage.py forget_number")
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        if not report.held:
            self.stdout.write(f"The portal held this number nowhere; the request is recorded "
                              f"as audit entry #{report.entry.pk}.")
            return
        for place, count in report.counts.items():
            self.stdout.write(f"  {place}: {count}")
        self.stdout.write(self.style.SUCCESS(
            f"Erased; the erasure is audit entry #{report.entry.pk}."))
