"""The appeals part of the demo: queues, trained reviewers, and appeals in every state (``seed_demo``).

Registered with ``decisions.demo.register_demo_step`` from ``AppealsConfig.ready()``, so it runs after the
decisions are recorded. Everything goes through ``appeals.services``, as a person on the portal and the
demo staff on the reviewer pages would do it: the person files (with small real PDF and PNG files made
here), the admin assigns, the reviewer opens the statement and every file, records a blind assessment
where the system asks for one, decides with reasons, and a second reviewer confirms where four eyes apply.
So the demo passes the same checks (S16-S27) and leaves the same audit trail and notices as real work.

Each system gets a short list of stories (``STORIES``): queued appeals for "Next case", one in review,
one waiting for the person's answer, one waiting for a second reviewer, decided ones (upheld, overturned,
modified, one closed once its remedy was carried out), a withdrawn one, late ones waiting for triage on
older decisions (recorded here, with their notice sent late: the person's good cause), data disputes and
explanation requests.

Idempotent: a story is told once. What the person wrote is fixed per story, so a second run finds the
story by that text and skips it. A story takes the first adverse decision (in external-id order) that has
no appeal, dispute or request yet, leaving alone the portal examples that ``decisions.demo`` prints, so
that a newcomer can file the first appeal on those.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from appeals import selectors, services
from appeals.models import Appeal, DataDispute, ExplanationRequest, Queue, QueueMembership
from appeals.workflow import State
from core import clock
from core.actors import Actor
from core.errors import ApplicationError
from core.models import User
from decisions import demo
from decisions import services as decision_services
from decisions.models import Decision, DecisionSystem, Outcome
from decisions.scorecards import Scorecard

REVIEWER, SENIOR, ADMIN = "reviewer", "senior", "admin"
TRAINING_COURSE = "Reviewing automated decisions: independence, blind review and four eyes (demo)"
LATE_DAYS_PAST_WINDOW = 12  # late decisions are this many days older than the appeal window
ASSIGN_REASON = "Assigned for the demo"

# ----------------------------------------------------------------------------------------- evidence files


def pdf_document(title: str, lines: Sequence[str]) -> bytes:
    """A minimal, valid one-page PDF (PDF 1.4, Helvetica) with ``title`` and ``lines`` (ASCII)."""

    def esc(text: str) -> str:
        text = text.encode("ascii", "replace").decode("ascii")
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = ["BT", "/F1 16 Tf", "72 740 Td", f"({esc(title)}) Tj", "/F1 11 Tf", "0 -28 Td", "15 TL"]
    ops += [f"({esc(line)}) Tj T*" for line in lines]
    ops.append("ET")
    stream = "\n".join(ops).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def png_image(seed: str, width: int = 240, height: int = 320) -> bytes:
    """A minimal, valid PNG (8-bit RGB): a photographed letter, pale paper with lines of dark "text"."""
    rng = random.Random(seed)  # noqa: S311 - demo picture, not a secret
    paper = (246, 242, 232)
    rows = []
    lines = {}
    for top in range(28, height - 24, 14):
        if rng.random() < 0.85:
            lines[top] = (20, 20 + rng.randint(width // 3, width - 44))
    for y in range(height):
        row = bytearray(b"\x00")  # filter type 0
        band = next(((x0, x1) for top, (x0, x1) in lines.items() if top <= y < top + 6), None)
        for x in range(width):
            if band is not None and band[0] <= x < band[1]:
                row += bytes((40, 44, 52))
            else:
                shade = 6 if (x + y) % 97 == 0 else 0
                row += bytes((paper[0] - shade, paper[1] - shade, paper[2] - shade))
        rows.append(bytes(row))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


@dataclass(frozen=True)
class DemoFile:
    name: str
    title: str = ""  # a PDF's heading; empty for a picture
    lines: tuple[str, ...] = ()

    def upload(self) -> services.Upload:
        if self.name.endswith(".pdf"):
            return services.Upload(self.name, pdf_document(self.title, self.lines))
        return services.Upload(self.name, png_image(self.name))


PAYSLIP = DemoFile(
    "payslip-october.pdf",
    "Payslip - October (demo document)",
    (
        "Employer: Harbour Logistics Ltd (invented)",
        "Gross pay this month: 3,150.00",
        "Net pay this month: 2,480.00",
        "Tax code: 1257L",
        "This is an invented document for the Contestable demo.",
    ),
)
STATEMENT_PDF = DemoFile(
    "bank-statement.pdf",
    "Bank statement, last three months (demo document)",
    (
        "Card repayments made on time: 36 of 36",
        "Loan closed in full on 2 September",
        "This is an invented document for the Contestable demo.",
    ),
)
LETTER_PHOTO = DemoFile("letter-photo.png")
TENANCY = DemoFile(
    "tenancy-agreement.pdf",
    "Tenancy agreement (demo document)",
    (
        "Tenants: the household named in the claim",
        "Address in Riverside City since 1 March, two years ago",
        "This is an invented document for the Contestable demo.",
    ),
)
SCREENSHOT = DemoFile("screenshot-of-post.png")

# ----------------------------------------------------------------------------------------- stories


def _t(en: str, es: str) -> dict[str, str]:
    return {"en": en, "es": es}


@dataclass(frozen=True)
class Story:
    """One case the demo tells. ``text`` is what the person wrote (en/es); it also marks the story as told."""

    key: str
    kind: str  # appeal | late | dispute | explanation
    text: dict[str, str]
    end: str = "queued"  # queued, in_review, awaiting_appellant, second_review, upheld, overturned,
    # modified, closed, withdrawn, triage (late), open / rejected (disputes), open / answered (requests)
    evidence: tuple[DemoFile, ...] = ()
    outcomes: tuple[str, ...] = ()  # the decision's outcome must be one of these
    modify_to: str = ""
    decided_by: str = SENIOR
    remedy: tuple[str, ...] = ()
    representative: bool = False
    oral_hearing: bool = False
    requested_remedy: str = ""
    feature: str = ""  # disputes: the input disputed
    proposed: Any = None
    blind: str = ""  # the blind assessment (S23) where it differs from the outcome reached


_RATIONALE = {
    "upheld": "I read the statement and every file, and checked the decision record. The inputs are right "
    "and the reasons hold for this case, so the decision stands. The letter names the routes outside us.",
    "overturned": "I read the statement and every file. They show that the input the decision relied on most "
    "was wrong for this person; with the right figure the outcome is favourable, so it is overturned.",
    "modified": "I read the statement and the record. The decision went too far for this case: a milder "
    "outcome fits the facts the person gave, so it is changed to that outcome.",
}
_CONFIRM = "I checked the statement, the files and the first reviewer's reasons; I agree with the outcome."
_BLIND_NOTE = "My own view before seeing the machine's outcome."
_QUESTION = _t(
    "Please send a payslip or a bank statement from the last three months, so we can check your income.",
    "Envíe una nómina o un extracto del banco de los últimos tres meses para comprobar sus ingresos.",
)


def _upheld(system: str, texts: Sequence[tuple[str, ...]]) -> tuple[Story, ...]:
    """More upheld appeals, decided in turn by the reviewer and the senior reviewer: real appeal systems
    uphold most decisions, and the demo's overturn rates stay below the stop switch's threshold (S29) until
    ``demo_stop_switch`` pushes one over it. Each text is (English, Spanish) or (English, Spanish, the
    reviewer's differing blind assessment)."""
    return tuple(
        Story(
            f"{system}:upheld-{n}",
            "appeal",
            _t(en, es),
            end="upheld",
            decided_by=(REVIEWER, SENIOR)[n % 2],
            blind=blind,
        )
        for n, (en, es, blind) in enumerate(((*t, "") if len(t) == 2 else t for t in texts), start=2)
    )


UPHELD_CREDIT: tuple[tuple[str, ...], ...] = (
    ("I have never been late with my rent.", "Nunca me he retrasado con el alquiler."),
    ("The limit you offer is too low for my needs.", "El límite que ofrecen es demasiado bajo para mí."),
    ("Other banks gave me a card without a problem.", "Otros bancos me dieron una tarjeta sin problema."),
    (
        "I moved house for work; that should not count against me.",
        "Me mudé por trabajo; eso no debería contar en mi contra.",
    ),
    ("My credit history is short because I am young.", "Mi historial de crédito es corto porque soy joven."),
    ("I use most of my limit but I always pay it back.", "Uso casi todo mi límite, pero siempre lo pago."),
    (
        "I asked for credit several times because I was buying a car.",
        "Pedí crédito varias veces porque estaba comprando un coche.",
    ),
    (
        "My debts are high this year because of a family emergency.",
        "Mis deudas son altas este año por una urgencia familiar.",
    ),
    (
        "I would like a person to look at my application again.",
        "Quisiera que una persona vuelva a mirar mi solicitud.",
    ),
    ("The decision does not take my savings into account.", "La decisión no tiene en cuenta mis ahorros."),
)
UPHELD_BENEFITS: tuple[tuple[str, ...], ...] = (
    ("Our rent takes most of our income.", "El alquiler se lleva casi todos nuestros ingresos."),
    (
        "I think the income limit is too strict for a family like ours.",
        "Creo que el límite de ingresos es demasiado estricto para una familia como la nuestra.",
    ),
    (
        "I could not find all the papers in time.",
        "No pude encontrar todos los papeles a tiempo.",
        "full_support",  # the reviewer first saw it otherwise (S23 divergence)
    ),
    (
        "My neighbour gets support and earns more than we do.",
        "Mi vecino recibe ayuda y gana más que nosotros.",
    ),
    (
        "We moved to the city only a few months ago, but we plan to stay.",
        "Llegamos a la ciudad hace solo unos meses, pero pensamos quedarnos.",
    ),
    ("Please look again at how much we earn each month.", "Vuelvan a mirar cuánto ganamos cada mes."),
)
UPHELD_CONTENT: tuple[tuple[str, ...], ...] = (
    ("Everyone else posts things like this.", "Todo el mundo publica cosas así."),
    (
        "I deleted the words you did not like, so put it back.",
        "Borré las palabras que no les gustaron, así que devuélvanla.",
    ),
    ("It was only a link to a sale.", "Solo era un enlace a unas rebajas."),
    ("I did not know this was against the rules.", "No sabía que esto iba contra las normas."),
    ("My account is old and I have never had problems.", "Mi cuenta es antigua y nunca he tenido problemas."),
    ("The post was meant for my friends only.", "La publicación era solo para mis amigos."),
)


CREDIT_STORIES = (
    Story(
        "credit:payslip",
        "appeal",
        _t(
            "My income is higher than the figure you used. I started a new job in September and my payslip "
            "shows it. I also paid every card bill on time this year; my bank statement shows it.",
            "Mis ingresos son más altos que la cifra que usaron. Empecé un trabajo nuevo en septiembre y mi "
            "nómina lo muestra. También pagué a tiempo todas las facturas de la tarjeta este año.",
        ),
        evidence=(PAYSLIP, STATEMENT_PDF),
        requested_remedy="The limit I asked for.",
    ),
    Story(
        "credit:overturned",
        "appeal",
        _t(
            "The late payments in my report were the bank's mistake: they took the payments twice and then "
            "refunded them. The letter from the bank says so.",
            "Los pagos tardíos de mi informe fueron un error del banco: cobraron dos veces y luego lo "
            "devolvieron. La carta del banco lo dice.",
        ),
        end="overturned",
        evidence=(LETTER_PHOTO,),
        decided_by=REVIEWER,
        remedy=("correction",),
    ),
    Story(
        "credit:upheld",
        "appeal",
        _t(
            "I do not think it is fair to look at how many times I asked for credit. I was only comparing "
            "offers.",
            "No me parece justo que miren cuántas veces pedí crédito. Solo estaba comparando ofertas.",
        ),
        end="upheld",
    ),
    Story(
        "credit:modified",
        "appeal",
        _t(
            "I accept I cannot have the full limit now, but saying no to any card at all is too much. "
            "I have a steady income and I have lived here for years.",
            "Acepto que ahora no me den el límite completo, pero decir que no a cualquier tarjeta es "
            "demasiado. Tengo ingresos estables y vivo aquí desde hace años.",
        ),
        end="modified",
        outcomes=("declined",),
        modify_to="lower_limit_offered",
        requested_remedy="At least a lower limit.",
    ),
    Story(
        "credit:in-review",
        "appeal",
        _t(
            "The debt figure counts a loan I paid off in full in September.",
            "La cifra de deudas cuenta un préstamo que pagué por completo en septiembre.",
        ),
        end="in_review",
    ),
    Story(
        "credit:awaiting-appellant",
        "appeal",
        _t(
            "My income went up this year. I can send proof if you tell me what you need.",
            "Mis ingresos subieron este año. Puedo enviar pruebas si me dicen qué necesitan.",
        ),
        end="awaiting_appellant",
    ),
    Story(
        "credit:closed",
        "appeal",
        _t(
            "Your report mixes me up with someone else who has my name: the missed payments are not mine.",
            "Su informe me confunde con otra persona que tiene mi nombre: los pagos no hechos no son míos.",
        ),
        end="closed",
        remedy=("correction", "expunged_flag"),
    ),
    Story(
        "credit:representative",
        "appeal",
        _t(
            "I am writing for my father, who asked me to. He has used the same card for 20 years and never "
            "missed a payment.",
            "Escribo en nombre de mi padre, que me lo pidió. Usa la misma tarjeta desde hace 20 años y nunca "
            "dejó de pagar.",
        ),
        representative=True,
    ),
    Story(
        "credit:withdrawn",
        "appeal",
        _t(
            "I think the decision is wrong about my address: I have lived here for four years.",
            "Creo que la decisión se equivoca con mi dirección: vivo aquí desde hace cuatro años.",
        ),
        end="withdrawn",
    ),
    Story(
        "credit:queued-2",
        "appeal",
        _t(
            "I use little of my credit: the figure shows a balance I cleared the week before.",
            "Uso poco de mi crédito: la cifra muestra un saldo que pagué la semana anterior.",
        ),
    ),
    *_upheld("credit", UPHELD_CREDIT),
    Story(
        "credit:late",
        "late",
        _t(
            "Your letter reached me only last week, long after the date on it, so I could not appeal in "
            "time. My income has gone up since the decision.",
            "Su carta me llegó la semana pasada, mucho después de su fecha, así que no pude apelar a tiempo. "
            "Mis ingresos han subido desde la decisión.",
        ),
        end="triage",
    ),
    Story(
        "credit:late-2",
        "late",
        _t(
            "I was in hospital when the letter came and only read it now. The decision is wrong about my "
            "payments.",
            "Estaba en el hospital cuando llegó la carta y la leí ahora. La decisión se equivoca con mis "
            "pagos.",
        ),
        end="triage",
    ),
    Story(
        "credit:dispute",
        "dispute",
        _t(
            "My debt payments are lower than this: the car loan ended in August.",
            "Mis pagos de deudas son más bajos: el préstamo del coche terminó en agosto.",
        ),
        feature="debt_to_income_pct",
        proposed=18,
        evidence=(STATEMENT_PDF,),
    ),
    Story(
        "credit:dispute-rejected",
        "dispute",
        _t(
            "I did not ask for credit that many times this year.",
            "No pedí crédito tantas veces este año.",
        ),
        end="rejected",
        feature="hard_inquiries_12m",
        proposed=0,
    ),
    Story(
        "credit:explanation",
        "explanation",
        _t(
            "How much does each fact change my score? What would I need to change to get the full limit?",
            "¿Cuánto cambia mi puntuación cada dato? ¿Qué tendría que cambiar para recibir el límite "
            "completo?",
        ),
    ),
    Story(
        "credit:explanation-answered",
        "explanation",
        _t(
            "Which credit report did you use, and from what date?",
            "¿Qué informe de crédito usaron y de qué fecha?",
        ),
        end="answered",
    ),
)

BENEFIT_STORIES = (
    Story(
        "benefits:tenancy",
        "appeal",
        _t(
            "I have lived in the city for more than two years. My tenancy agreement shows it. The decision "
            "says I only just arrived.",
            "Vivo en la ciudad desde hace más de dos años. Mi contrato de alquiler lo muestra. La decisión "
            "dice que acabo de llegar.",
        ),
        evidence=(TENANCY,),
        requested_remedy="Full housing support.",
    ),
    Story(
        "benefits:second-review",
        "appeal",
        _t(
            "Our household is bigger than you counted: my mother moved in with us in the spring.",
            "Nuestro hogar es más grande de lo que contaron: mi madre vino a vivir con nosotros en "
            "primavera.",
        ),
        end="second_review",
    ),
    Story(
        "benefits:overturned",
        "appeal",
        _t(
            "I sent all the papers by post in October. Here is a photo of the receipt from the post office.",
            "Envié todos los papeles por correo en octubre. Aquí tiene una foto del recibo de correos.",
        ),
        end="overturned",
        evidence=(LETTER_PHOTO,),
        remedy=("reinstatement", "refund"),
    ),
    Story(
        "benefits:upheld",
        "appeal",
        _t(
            "Our income is only just above the limit, and rent went up this year.",
            "Nuestros ingresos están solo un poco por encima del límite, y el alquiler subió este año.",
        ),
        end="upheld",
        decided_by=REVIEWER,
    ),
    Story(
        "benefits:modified",
        "appeal",
        _t(
            "We need some support even if not all of it: my partner lost hours at work.",
            "Necesitamos algo de ayuda aunque no sea toda: mi pareja perdió horas en el trabajo.",
        ),
        end="modified",
        outcomes=("not_eligible",),
        modify_to="partial_support",
    ),
    Story(
        "benefits:in-review",
        "appeal",
        _t(
            "The decision does not count my disability, which the council recognised last year.",
            "La decisión no cuenta mi discapacidad, que el ayuntamiento reconoció el año pasado.",
        ),
        end="in_review",
    ),
    Story(
        "benefits:awaiting-appellant",
        "appeal",
        _t(
            "My income changed when my contract ended. I can send papers.",
            "Mis ingresos cambiaron cuando terminó mi contrato. Puedo enviar papeles.",
        ),
        end="awaiting_appellant",
    ),
    Story(
        "benefits:hearing",
        "appeal",
        _t(
            "I would like to explain my situation in person. Writing is hard for me.",
            "Me gustaría explicar mi situación en persona. Me cuesta escribir.",
        ),
        oral_hearing=True,
    ),
    *_upheld("benefits", UPHELD_BENEFITS),
    Story(
        "benefits:late",
        "late",
        _t(
            "The letter went to my old address and was only passed on to me this week.",
            "La carta fue a mi dirección anterior y me la dieron esta semana.",
        ),
        end="triage",
    ),
    Story(
        "benefits:dispute",
        "dispute",
        _t(
            "I sent all the papers, not only some of them.",
            "Envié todos los papeles, no solo algunos.",
        ),
        feature="documents_provided",
        proposed="all",
    ),
    Story(
        "benefits:explanation",
        "explanation",
        _t(
            "Please explain how you counted my household and my income.",
            "Explíquenme cómo contaron mi hogar y mis ingresos.",
        ),
    ),
)

CONTENT_STORIES = (
    Story(
        "content:screenshot",
        "appeal",
        _t(
            "My post quoted an insult to criticise it; it did not attack anyone. The screenshot shows the "
            "whole thread.",
            "Mi publicación citaba un insulto para criticarlo; no atacaba a nadie. La captura muestra todo "
            "el hilo.",
        ),
        evidence=(SCREENSHOT,),
        requested_remedy="Put my post back.",
    ),
    Story(
        "content:overturned",
        "appeal",
        _t(
            "The link in my post goes to my own shop, not to a spam site.",
            "El enlace de mi publicación lleva a mi propia tienda, no a un sitio de spam.",
        ),
        end="overturned",
        decided_by=REVIEWER,
        remedy=("reinstatement",),
    ),
    Story(
        "content:upheld",
        "appeal",
        _t(
            "I did not mean it the way it sounds.",
            "No lo dije con esa intención.",
        ),
        end="upheld",
        decided_by=REVIEWER,
    ),
    Story(
        "content:modified",
        "appeal",
        _t(
            "Removing the post is too much: it was a joke between friends.",
            "Quitar la publicación es demasiado: era una broma entre amigos.",
        ),
        end="modified",
        outcomes=("removed",),
        modify_to="visibility_restricted",
    ),
    Story(
        "content:in-review",
        "appeal",
        _t(
            "Suspending my whole account for one post is not fair.",
            "Suspender toda mi cuenta por una publicación no es justo.",
        ),
        end="in_review",
    ),
    Story(
        "content:awaiting-appellant",
        "appeal",
        _t(
            "Someone else used my account that day.",
            "Otra persona usó mi cuenta ese día.",
        ),
        end="awaiting_appellant",
    ),
    Story(
        "content:queued-2",
        "appeal",
        _t(
            "The post was news, shared from a newspaper.",
            "La publicación era una noticia, compartida de un periódico.",
        ),
    ),
    *_upheld("content", UPHELD_CONTENT),
    Story(
        "content:dispute",
        "dispute",
        _t(
            "These reports came from one group of people who reported all my posts on the same day.",
            "Estas denuncias vienen de un grupo de personas que denunció todas mis publicaciones el mismo "
            "día.",
        ),
        feature="user_reports",
    ),
    Story(
        "content:explanation",
        "explanation",
        _t(
            "Which words in my post did your tool find, and did a person look at it?",
            "¿Qué palabras de mi publicación encontró su herramienta, y la miró una persona?",
        ),
    ),
)

STORIES: dict[str, tuple[Story, ...]] = {
    "credit-limit": CREDIT_STORIES,
    "benefit-eligibility": BENEFIT_STORIES,
    "content-moderation": CONTENT_STORIES,
}

# ----------------------------------------------------------------------------------------- the staff


@dataclass
class Staff:
    reviewer: User
    senior: User
    admin: User

    def by_name(self, name: str) -> User:
        return {REVIEWER: self.reviewer, SENIOR: self.senior, ADMIN: self.admin}[name]

    def other(self, user: User) -> User:
        return self.senior if user.pk == self.reviewer.pk else self.reviewer


def ensure_queue(system: DecisionSystem, staff: Staff) -> Queue:
    """The system's main queue, with the demo reviewer as member and the senior reviewer as supervisor."""
    queue = Queue.objects.filter(system=system, team="").first()
    if queue is None:
        queue = services.queue_create(system=system, name=f"{system.name}: appeals", actor=staff.admin)
    services.queue_member_add(queue=queue, user=staff.reviewer, actor=staff.admin)
    services.queue_member_add(
        queue=queue, user=staff.senior, actor=staff.admin, role=QueueMembership.Role.SUPERVISOR
    )
    return queue


def ensure_training(system: DecisionSystem, staff: Staff) -> int:
    """S2: at levels III-IV reviewers need recorded, current training. Returns how many were recorded."""
    if not system.requires_human_decision_for_adverse:
        return 0
    today = clock.local_date(clock.now(), system.time_zone)
    recorded = 0
    for user in (staff.reviewer, staff.senior):
        if selectors.has_training_for(user, system, today):
            continue
        services.reviewer_training_record(
            user=user,
            course=TRAINING_COURSE,
            completed_on=today - timedelta(days=30),
            expires_on=today + timedelta(days=2 * 365),
            system=system,
            actor=staff.admin,
        )
        recorded += 1
    return recorded


# ----------------------------------------------------------------------------------------- telling stories


def _told(system: DecisionSystem, story: Story) -> bool:
    texts = list(story.text.values())
    if story.kind in ("appeal", "late"):
        return Appeal.objects.filter(decision__system=system, statement__in=texts).exists()
    if story.kind == "dispute":
        return DataDispute.objects.filter(decision__system=system, what_is_wrong__in=texts).exists()
    return ExplanationRequest.objects.filter(decision__system=system, question__in=texts).exists()


def _candidates(system: DecisionSystem, kind: str) -> list[Decision]:
    """Adverse demo decisions a story of ``kind`` can be told on. Appeals take, in external-id order, those
    nobody has touched yet. Disputes and explanation requests take, from the other end, those with no
    dispute or request yet, even if appealed (people do both), so that a small demo still has them."""
    reserved = set(demo.portal_example_ids().values())
    appealed = Exists(Appeal.objects.filter(decision=OuterRef("pk")))
    asked = Exists(DataDispute.objects.filter(decision=OuterRef("pk"))) | Exists(
        ExplanationRequest.objects.filter(decision=OuterRef("pk"))
    )
    S = Decision.Status
    live = [S.PENDING_NOTICE, S.EFFECTIVE] if kind == "appeal" else [S.PENDING_NOTICE, S.EFFECTIVE, S.STAYED]
    qs = (
        Decision.objects.filter(
            system=system,
            adverse=True,
            supersedes__isnull=True,
            external_id__startswith=f"{system.slug}-",
            status__in=live,
        )
        .exclude(external_id__in=reserved)
        .exclude(external_id__contains="-late-")
        .exclude(asked)
        .select_related("subject", "outcome", "system")
    )
    if kind == "appeal":
        return list(qs.exclude(appealed).order_by("external_id"))
    return list(qs.order_by("-external_id"))


def _late_decision(system: DecisionSystem, story: Story, number: int) -> Decision | None:
    """An older decision of ``system``, past its appeal window, for a late appeal (recorded once). Its notice
    goes out now, late (S12 flags it): the person's good cause for appealing after the window."""
    ext = f"{system.slug}-late-{number:02d}"
    found = (
        Decision.objects.filter(system=system, external_id=ext).select_related("subject", "system").first()
    )
    if found is not None:
        return found
    spec = next(s for s in demo.SYSTEMS if s.slug == system.slug)
    version = system.versions.filter(version=demo.VERSION).first()
    if version is None:
        return None
    card = Scorecard(version.scorecard or spec.scorecard)
    # Late cases are people the main demo never meets (case numbers from 9000), adverse, and at levels
    # III-IV already approved by a person (so the decision took effect and can be appealed).
    seen = 0
    for i in range(9000, 9400):
        case = demo.demo_case(spec, card, i)
        if not case.result.adverse_side:
            continue
        if system.requires_human_decision_for_adverse and not case.human:
            continue
        seen += 1
        if seen == number:
            break
    else:  # pragma: no cover - the draws always have such cases
        return None
    when = timezone.now() - timedelta(days=system.appeal_window_days + LATE_DAYS_PAST_WINDOW)
    item = demo.decision_item(spec, version, case, when)
    item["external_id"] = ext
    client = system.api_clients.first()  # the system's demo integrator records it, like the others
    result = decision_services.decision_record(data=item, actor=client or demo.ACTOR, client=client)
    return Decision.objects.select_related("subject", "system").get(pk=result.decision.pk)


def _person(decision: Decision) -> Actor:
    return Actor.subject(decision.subject.pseudonym)


def _open_everything(appeal: Appeal, user: User) -> list[str]:
    """The reviewer opens the statement and every file (S21); returns what they can cite (S26)."""
    services.evidence_open(appeal=appeal, reviewer=user)
    cited = ["statement", "decision_record"]
    for f in appeal.evidence.order_by("added_at"):
        services.evidence_open(appeal=appeal, reviewer=user, evidence=f)
        cited.append(str(f.pk))
    return cited


def _favourable(decision: Decision) -> str:
    return (
        Outcome.objects.filter(version_id=decision.version_id, adverse=False)
        .order_by("pk")
        .values_list("code", flat=True)
        .first()
        or ""
    )


def _decide(appeal: Appeal, story: Story, staff: Staff, outcome: str) -> Appeal:
    """The first review through to its end, and the second (four eyes) where the system needs one."""
    d = appeal.decision
    first = staff.by_name(story.decided_by)
    appeal = services.review_reassign(appeal=appeal, to=first, actor=staff.admin, reason=ASSIGN_REASON)
    cited = _open_everything(appeal, first)
    target = story.modify_to if outcome == Appeal.Outcome.MODIFIED else ""
    if d.system.blind_review:
        blind = (
            story.blind
            or {"upheld": d.outcome.code, "overturned": _favourable(d), "modified": target}[outcome]
        )
        services.review_record_blind_assessment(
            appeal=appeal, reviewer=first, outcome=blind, note=_BLIND_NOTE
        )
    appeal = services.review_decide(
        appeal=appeal,
        reviewer=first,
        outcome=outcome,
        rationale=_RATIONALE[outcome],
        evidence_relied_on=cited,
        new_outcome=target,
        remedy=list(story.remedy) if outcome != Appeal.Outcome.UPHELD else [],
        remedy_note="Carried out by the institution's team." if story.remedy else "",
    )
    if appeal.status != State.AWAITING_SECOND_REVIEW or story.end == "second_review":
        return appeal
    second = staff.other(first)
    appeal = services.review_reassign(appeal=appeal, to=second, actor=staff.admin, reason=ASSIGN_REASON)
    _open_everything(appeal, second)
    return services.review_confirm_second(appeal=appeal, reviewer=second, confirm=True, rationale=_CONFIRM)


def _tell_appeal(story: Story, d: Decision, staff: Staff) -> str:
    lang = d.subject.language if d.subject.language in story.text else "en"
    person = _person(d)
    representative = (
        {"name": "Alex Morgan (demo)", "email": "alex.morgan@example.org", "authority": "Written consent"}
        if story.representative
        else None
    )
    a = services.appeal_file(
        decision=d,
        statement=story.text[lang],
        actor=person,
        filed_by=Appeal.FiledBy.REPRESENTATIVE if story.representative else Appeal.FiledBy.PERSON,
        representative=representative,
        requested_remedy=story.requested_remedy,
        oral_hearing_requested=story.oral_hearing,
        good_cause=story.text[lang] if story.kind == "late" else "",
        evidence=[f.upload() for f in story.evidence],
        language=lang,
    )
    if story.end in ("queued", "triage"):
        return a.status
    if story.end == "withdrawn":
        return services.appeal_withdraw(
            appeal=a, actor=person, reason="I sorted it out with the bank."
        ).status
    if story.end in ("in_review", "awaiting_appellant"):
        a = services.review_reassign(appeal=a, to=staff.senior, actor=staff.admin, reason=ASSIGN_REASON)
        services.evidence_open(appeal=a, reviewer=staff.senior)
        if story.end == "awaiting_appellant":
            services.information_request(appeal=a, reviewer=staff.senior, question=_QUESTION[lang])
        return Appeal.objects.get(pk=a.pk).status
    outcome = {
        "second_review": Appeal.Outcome.UPHELD,
        "upheld": Appeal.Outcome.UPHELD,
        "overturned": Appeal.Outcome.OVERTURNED,
        "closed": Appeal.Outcome.OVERTURNED,
        "modified": Appeal.Outcome.MODIFIED,
    }[story.end]
    a = _decide(a, story, staff, outcome)
    if story.end == "closed":
        a = services.appeal_close(appeal=a, actor=staff.senior, note="Records corrected and the limit given.")
    return a.status


def _tell_dispute(story: Story, d: Decision, staff: Staff) -> str:
    lang = d.subject.language if d.subject.language in story.text else "en"
    dispute = services.dispute_file(
        decision=d,
        feature=story.feature,
        what_is_wrong=story.text[lang],
        actor=_person(d),
        proposed_value=story.proposed,
        evidence=[f.upload() for f in story.evidence],
        language=lang,
    )
    if story.end == "rejected":
        dispute = services.dispute_resolve(
            dispute=dispute,
            corrected=False,
            note="We checked with the credit reference agency: each application is on their file, with its "
            "date and the lender's name.",
            actor=staff.senior,
        )
    return f"dispute {dispute.status}"


def _tell_explanation(story: Story, d: Decision, staff: Staff) -> str:
    lang = d.subject.language if d.subject.language in story.text else "en"
    r = services.explanation_request_file(
        decision=d, question=story.text[lang], actor=_person(d), language=lang
    )
    if story.end == "answered":
        answer = _t(
            "We used your report from Clearview Credit Data, dated the day of the decision. You can ask them "
            "for a free copy. The decision page shows each fact we used and its date.",
            "Usamos su informe de Clearview Credit Data, con fecha del día de la decisión. Puede pedirles "
            "una copia gratis. La página de la decisión muestra cada dato que usamos y su fecha.",
        )
        r = services.explanation_request_answer(request=r, answer=answer[lang], actor=staff.senior)
    return f"explanation request {r.status}"


@dataclass
class SystemResult:
    told: Counter[str] = field(default_factory=Counter)
    untold: list[str] = field(default_factory=list)  # no decision left for them (a small --scale)
    skipped: list[str] = field(default_factory=list)  # refused by a service (should not happen)


def _pick(candidates: list[Decision], story: Story, used: set[Any]) -> Decision | None:
    """The first candidate not used in this run for the same purpose, with an outcome the story fits."""
    for c in candidates:
        if story.outcomes and c.outcome.code not in story.outcomes:
            continue
        if (c.pk if story.kind == "appeal" else (story.kind, c.pk)) in used:
            continue
        return c
    return None


def tell_stories(system: DecisionSystem, staff: Staff) -> SystemResult:
    """Tell every story of ``system`` not told yet, each all or nothing; notices go out after the lot."""
    result = SystemResult()
    stories = [s for s in STORIES.get(system.slug, ()) if not _told(system, s)]
    if not stories:
        return result
    late_number = 0
    with transaction.atomic():
        candidates: dict[str, list[Decision]] = {}  # per kind, read when first needed (after the appeals)
        used: set[Any] = set()
        for story in STORIES.get(system.slug, ()):
            if story.kind == "late":
                late_number += 1
            if story not in stories:
                continue
            try:
                with transaction.atomic():
                    if story.kind == "late":
                        d = _late_decision(system, story, late_number)
                    else:
                        kind = "appeal" if story.kind == "appeal" else "other"
                        if kind not in candidates:
                            candidates[kind] = _candidates(system, kind)
                        d = _pick(candidates[kind], story, used)
                    if d is None:
                        result.untold.append(story.key)
                        continue
                    used.add(d.pk if story.kind == "appeal" else (story.kind, d.pk))
                    if story.kind == "dispute":
                        told = _tell_dispute(story, d, staff)
                    elif story.kind == "explanation":
                        told = _tell_explanation(story, d, staff)
                    else:
                        told = _tell_appeal(story, d, staff)
                result.told[told] += 1
            except ApplicationError as exc:
                result.skipped.append(f"{story.key}: {exc.detail}")
    return result


# ----------------------------------------------------------------------------------------- the step


def _site(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _try_this(staff: Staff) -> list[str]:
    lines = []
    nxt = (
        selectors.claimable_appeals(staff.reviewer)
        .order_by(*selectors.claim_ordering(staff.reviewer, None))
        .select_related("decision__system")
        .first()
    )
    if nxt is not None:
        files = nxt.evidence.count()
        lines.append(
            f"Review an appeal: sign in at {_site(reverse('appeals:review'))} as {REVIEWER} / "
            f"{REVIEWER}-demo-pass and press Next case (or n): {nxt.reference} ({nxt.decision.system.name}"
            + (f", with the person's statement and {files} file(s)" if files else "")
            + "). Open the statement and every file, then overturn it with your reasons; the person's notice "
            "and the new decision appear in the outbox and on the portal."
        )
    second = Appeal.objects.filter(status=State.AWAITING_SECOND_REVIEW, claimed_by__isnull=True).first()
    if second is not None:
        lines.append(
            f"Four eyes (S24): {second.reference} waits for a second reviewer; as {REVIEWER}, open the "
            "second review queue on the same page."
        )
    decided = (
        Appeal.objects.filter(
            status=State.DECIDED,
            outcome=Appeal.Outcome.OVERTURNED,
            decision__system__slug=demo.PORTAL_SYSTEM_SLUG,
        )
        .select_related("decision")
        .order_by("filed_at")
        .first()
    )
    way = demo.way_in(decided.decision, demo.demo_mailbox()) if decided is not None else None
    if decided is not None and way is not None:
        lines.append(
            f"See an overturned appeal as the person saw it: at {_site('/portal/')} type {way.reference} and "
            f"the code {way.code} (from their first notice, {way.notice_url})."
        )
    late = list(
        Appeal.objects.filter(status=State.SUBMITTED, late=True)
        .order_by("filed_at")
        .values_list("reference", flat=True)
    )
    if late:
        lines.append(
            f"Late appeals waiting for a person to triage them (S17, good cause): {', '.join(late)} "
            f"(appeals.services.appeal_triage_late, as {SENIOR} / {SENIOR}-demo-pass)."
        )
    return lines


def seed(scale: float = 1.0) -> demo.StepReport:
    """The registered step: queues, training, and the stories of every demo system."""
    del scale  # the stories are a fixed list; a smaller demo simply has fewer decisions to tell them on
    users = {u.username: u for u in User.objects.filter(username__in=[REVIEWER, SENIOR, ADMIN])}
    if len(users) < 3:
        return demo.StepReport(lines=["skipped: the demo staff are missing"])
    staff = Staff(reviewer=users[REVIEWER], senior=users[SENIOR], admin=users[ADMIN])
    told, trained, untold, skipped = 0, 0, [], []
    for system in DecisionSystem.objects.filter(slug__in=list(STORIES)).order_by("pk"):
        ensure_queue(system, staff)
        trained += ensure_training(system, staff)
        result = tell_stories(system, staff)
        told += sum(result.told.values())
        untold += result.untold
        skipped += result.skipped
    by_status = Counter(Appeal.objects.values_list("status", flat=True))
    states = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted(by_status.items()))
    lines = [
        f"{told} new stor{'y' if told == 1 else 'ies'}; {sum(by_status.values())} appeal(s) in all: {states}",
        f"{DataDispute.objects.count()} data dispute(s), {ExplanationRequest.objects.count()} explanation "
        f"request(s); {Queue.objects.count()} queue(s); {trained} training record(s) added",
    ]
    if untold:
        lines.append(
            f"{len(untold)} stor{'y' if len(untold) == 1 else 'ies'} need more decisions than this "
            f"--scale records: {', '.join(untold)}"
        )
    lines += [f"refused: {line}" for line in skipped]
    return demo.StepReport(lines=lines, try_this=_try_this(staff))
