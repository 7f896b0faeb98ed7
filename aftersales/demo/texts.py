"""Words for the demo data: what reps write after a call, what customers answer.

Rep notes are in English (the team's working language); survey comments are
in the customer's own language, as they would be in real answers.
"""

from __future__ import annotations

NOTES_WARM = (
    "Very happy with it; the whole team uses it daily.",
    "All good. They asked about adding two more users next quarter.",
    "Running smoothly, no issues since the last call.",
    "Pleased with the support response time. Mentioned a referral.",
    "Everything works; asked for the advanced training dates.",
    "Great call, they shared a success story we could use as a case study.",
    "Happy overall, small question on invoices answered on the call.",
)
NOTES_NEUTRAL = (
    "Works, but setup took longer than they expected.",
    "OK so far; they still keep a spreadsheet alongside it.",
    "Mixed: the operators like it, the owner worries about the cost.",
    "No real problems, but usage is lower than planned.",
    "Fine. Wants clearer documentation for the new staff.",
    "Some minor glitches, sent the knowledge-base links.",
)
NOTES_COLD = (
    "Frustrated: two breakdowns this month and slow parts delivery.",
    "Unhappy with the price increase; mentioned looking at competitors.",
    "Team stopped using it after the key user left. Needs re-onboarding.",
    "Complained that support tickets go unanswered for days.",
    "Installation problems not solved yet; escalated to the technical team.",
    "Says the product does not do what the salesperson promised.",
)
NOTES_NO_ANSWER = (
    "No answer. Will try again later this week.",
    "Phone rang out; sent a short email instead.",
    "Reception said they are in meetings all day.",
)
NOTES_LEFT_MESSAGE = (
    "Left a voicemail with my direct number.",
    "Left a message with their assistant.",
    "Left a message; also sent the agenda by email.",
)
NOTES_INBOUND = (
    "Customer called to ask how to add a user; walked them through it.",
    "They emailed to book extra training for new staff.",
    "Called in about an invoice question; sorted on the call.",
    "Asked for a quote for a second unit.",
    "Called to report a small issue, fixed remotely.",
)
NEXT_STEPS_WARM = (
    "Send the quote for extra seats",
    "Invite them to the user group meetup",
    "Ask for a testimonial next call",
    "",
    "",
)
NEXT_STEPS_COLD = (
    "Escalate to the service manager",
    "Book a technician visit this week",
    "Offer a free refresher session",
    "Call back on Friday with a solution",
)
NEXT_STEPS_RETRY = ("Try again in two days", "Call back next week", "")
CANCEL_REASONS = (
    "Customer asked to skip it during their busy season.",
    "Covered during the on-site visit the week before.",
    "Duplicate of the renewal call.",
    "Contact person on leave; rescheduled as a new check-up.",
    "Product returned under the trial terms.",
)
CLOSE_LOOP_DONE = (
    "Called back, apologised and agreed on a fix with a date.",
    "Listened to the complaint; a technician is booked.",
    "Explained the billing mistake and issued a credit note.",
    "Walked through the missing feature's workaround; they are calmer.",
)
DUE_TODAY_OBJECTIVES = (
    "Follow up on the quote for additional licences.",
    "Confirm the technician visit and the spare part delivery date.",
    "Check that last week's invoice question is solved.",
    "Call about the training dates they asked for.",
    "Ask how the new operator is getting on.",
)
OVERDUE_OBJECTIVES = (
    "Send the revised quote they asked for on the last call.",
    "Call back about the delayed spare part.",
)
CUSTOMER_NOTES = (
    "Prefers calls after 3 pm.",
    "Decision maker is the finance director.",
    "Referred by an existing customer.",
    "Multi-site: ask which location before booking visits.",
    "Send invoices to the accounts payable address, not the contact.",
)

# Survey comments by language and by NPS class (promoter, passive, detractor).
COMMENTS = {
    "en": (
        (
            "Great product and even better people behind it.",
            "The onboarding calls made all the difference.",
            "Works exactly as promised. We already recommended you.",
            "Fast support, friendly team, no complaints.",
        ),
        (
            "Good overall, but the setup took too long.",
            "Does the job. The price is a bit high for what we use.",
            "Fine, though the documentation could be clearer.",
        ),
        (
            "Two breakdowns in a month and nobody called back.",
            "Support is slow and the invoices are confusing.",
            "Not what we were sold. We are considering other options.",
        ),
    ),
    "es": (
        (
            "Excelente producto y un equipo muy atento.",
            "Las llamadas de seguimiento nos ayudaron mucho.",
            "Funciona tal como nos prometieron. Ya os hemos recomendado.",
            "Soporte rápido y amable, sin quejas.",
        ),
        (
            "Bien en general, pero la instalación tardó demasiado.",
            "Cumple, aunque el precio es algo alto para lo que usamos.",
            "Correcto, pero la documentación podría ser más clara.",
        ),
        (
            "Dos averías en un mes y nadie nos devolvió la llamada.",
            "El soporte es lento y las facturas son confusas.",
            "No es lo que nos vendieron. Estamos mirando otras opciones.",
        ),
    ),
    "ru": (
        (
            "Отличный продукт и очень внимательная команда.",
            "Звонки после покупки очень помогли с запуском.",
            "Работает так, как обещали. Уже рекомендовали вас партнёрам.",
            "Быстрая и вежливая поддержка, претензий нет.",
        ),
        (
            "В целом хорошо, но внедрение заняло слишком много времени.",
            "Свою задачу выполняет, но цена высоковата.",
            "Нормально, хотелось бы более понятную документацию.",
        ),
        (
            "Две поломки за месяц, и никто не перезвонил.",
            "Поддержка отвечает медленно, счета непонятные.",
            "Это не то, что нам продавали. Смотрим на конкурентов.",
        ),
    ),
}
