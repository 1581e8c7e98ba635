"""Precision guards: each check refuses what it should, in both directions, and nothing else."""

from __future__ import annotations

import time

import pytest

from binary_semantic_cache.guards import ALL_CHECKS, DEFAULT_CHECKS, PrecisionGuards

# The LangChain hub's rlm/rag-prompt: template and retrieved context in one human message.
RAG = (
    "You are an assistant for question-answering tasks. Use the following pieces of retrieved "
    "context to answer the question. If you don't know the answer, just say that you don't know. "
    "Use three sentences maximum and keep the answer concise.\nQuestion: {question} \n"
    "Context: Every product line comes with a two year warranty on parts and labour. \nAnswer:"
)

# (check, one question, the other): each pair must be refused by that check alone.
REFUSED = [
    ("numbers", "Can a 19 year old date a 16 year old?", "Can a 19 year old date a 17 year old?"),
    (
        "numbers",
        "What is the chart time for train no. 19707?",
        "What is the chart time for train no. 19708?",
    ),
    ("numbers", "How do I earn 1,000 dollars a month?", "How do I earn 5000 dollars a month?"),
    ("numbers", "Give me three tips for sleeping", "Give me five tips for sleeping"),
    ("numbers", "Who won the first world war?", "Who won the second world war?"),
    ("numbers", "Can I live on 30k a year?", "Can I live on 40,000 a year?"),
    ("dates", "Best phones to buy in 2023?", "Best phones to buy in 2024?"),
    ("dates", "Is the museum open on Monday?", "Is the museum open on Friday?"),
    ("dates", "What happened in March 2020?", "What happened in June 2020?"),
    ("units", "How far is 5 km?", "How far is 5 miles?"),
    ("units", "Which is the best phone under $200?", "Which is the best phone under 200 rupees?"),
    ("negation", "Is it safe to eat raw eggs?", "Is it not safe to eat raw eggs?"),
    ("negation", "Why can't I sleep at night?", "Why do I sleep at night?"),
    ("negation", "Which foods have gluten?", "Which foods have no gluten?"),
    ("entities", "How do I learn Java quickly?", "How do I learn Python quickly?"),
    ("entities", "What is the climate like in Ohio?", "What is the climate like in Kentucky?"),
    ("entities", "How do I prepare for the GRE?", "How do I prepare for the GMAT?"),
    (
        "entities",
        "Which sights compare to those in Oshawa?",
        "Which sights compare to those in Ottawa?",
    ),
    ("quotes", 'What does "carpe diem" mean?', 'What does "memento mori" mean?'),
    ("quotes", "How do you say 'good night' in Spanish?", "How do you say 'thank you' in Spanish?"),
    ("code", "How do I use os.path.join in Python?", "How do I use os.path.split in Python?"),
    ("code", "What does `fetch_all()` return?", "What does `fetch_one()` return?"),
    ("code", "Why is my_list empty after the loop?", "Why is my_dict empty after the loop?"),
    (
        "code",
        "What is the difference between == and === in JavaScript?",
        "What is the difference between = and == in JavaScript?",
    ),
    ("code", "When is a <= b true?", "When is a >= b true?"),
    ("code", "What does x = a + b do?", "What does x = a - b do?"),
    (
        "code",
        "Fix this code: for i in range(10): print(i)",
        "Fix this code: for i in range(10): print(i * 2)",
    ),
    (
        "contrasts",
        "What is the maximum daily dose of ibuprofen for adults?",
        "What is the maximum daily dose of ibuprofen for children?",
    ),
    (
        "contrasts",
        "Is this tweet positive: I love the new update!",
        "Is this tweet positive: I hate the new update!",
    ),
    (
        "contrasts",
        "When is the best time to buy a house?",
        "When is the best time to sell a house?",
    ),
    ("contrasts", "How many hours a day should I study?", "How many hours a week should I study?"),
    ("contrasts", "How do I gain weight fast?", "How do I lose weight fast?"),
    ("contrasts", "What are the pros of remote work?", "What are the cons of remote work?"),
    ("contrasts", "How do I delete a column in pandas?", "How do I delete a row in pandas?"),
    ("contrasts", "How do I delete a table in MySQL?", "How do I delete a row in MySQL?"),
    ("contrasts", "how to round up in excel", "how to round down in excel"),
    ("contrasts", "How do I zoom in on a Mac?", "How do I zoom out on a Mac?"),
    ("contrasts", "How do I install numpy?", "How do I uninstall numpy?"),
    ("contrasts", "How to make coffee stronger?", "How to make coffee weaker?"),
    ("contrasts", "Check if a number is odd in Python", "Check if a number is even in Python"),
    ("contrasts", "Summarize this in one sentence.", "Summarize this in one paragraph."),
    (
        "contrasts",
        "Rewrite this email in a formal tone: I can't make the meeting.",
        "Rewrite this email in a casual tone: I can't make the meeting.",
    ),
    (
        "contrasts",
        "Summarize this as bullet points: sales rose.",
        "Summarize this as a tweet: sales rose.",
    ),
    (
        "contrasts",
        "Write a guide to index funds for beginners",
        "Write a guide to index funds for experts",
    ),
    ("contrasts", "answer in english: what is a noun?", "answer in german: what is a noun?"),
    (
        "contrasts",
        "write a complaint letter to my landlord about the heating",
        "write a thank you letter to my landlord about the heating",
    ),
    (
        "direction",
        "Translate from English to French: good morning",
        "Translate from French to English: good morning",
    ),
    (
        "direction",
        "How do I convert a PDF to a Word file?",
        "How do I convert a Word file to a PDF?",
    ),
    ("direction", "Is Java better than Python?", "Is Python better than Java?"),
    ("direction", "How can a man attract a woman?", "How can a woman attract a man?"),
    ("direction", "Why do Poles dislike Russians?", "Why do Russians dislike Poles?"),
    (
        "direction",
        "¿Cómo se traduce del inglés al francés?",
        "¿Cómo se traduce del francés al inglés?",
    ),
    (
        "direction",
        "How do you convert benzene into toluene?",
        "How do you convert toluene into benzene?",
    ),
    ("ask", "When was the lighthouse built?", "Who built the lighthouse?"),
    ("ask", "In which year did the bakery open?", "Why did the bakery open?"),
    ("ask", "What time is the ferry to Naxos?", "Where is the ferry to Naxos?"),
    ("ask", "How many staff does the library have?", "How long has the library been open?"),
    ("ask", "The treaty was signed where?", "When was the treaty signed?"),
    ("ask", "What is the GDP of Chile?", "What is the GDP per capita of Chile?"),
    ("ask", "What is the population of Peru?", "What is the population density of Peru?"),
    (
        "shared_text",
        RAG.format(question="How long is the warranty?"),
        RAG.format(question="Does the warranty cover water damage?"),
    ),
    (
        "shared_text",
        RAG.format(question="What does the warranty cover?"),
        RAG.format(question="What does the warranty cover? Reply in French."),
    ),
]

# Paraphrases and rewordings that must be served.
ALLOWED = [
    ("What is the population of Peru?", "How many people live in Peru?"),
    ("What is the GDP of Chile?", "What is Chile's GDP?"),
    ("In what year was the lighthouse built?", "When was the lighthouse built?"),
    ("What is the name of the man who built the lighthouse?", "Who built the lighthouse?"),
    ("What should I do when my cat stops eating?", "My cat stopped eating, what do I do?"),
    ("What is the population of India?", "How many people live in India?"),
    ("What's the best way to learn python?", "How can I learn Python fast?"),
    ("Python is better than Java?", "Is Python better than Java?"),
    ("How is life in the U.S.?", "How is life in the US?"),
    (
        "Who is the most corrupt Indian prime minister?",
        "Who is the most corrupt prime minister of India?",
    ),
    ("Was Mahatma Gandhi a racist?", "Was Gandhi a racist?"),
    (
        "How do I know if someone blocked me on WhatsApp or not?",
        "How do I know if I'm blocked on WhatsApp?",
    ),
    ("Is it safe to eat a raw egg? Why or why not?", "Is it safe to eat a raw egg?"),
    ("Can we travel back in time? If not, why?", "Can we travel back in time?"),
    ("Is Java purely object oriented or no?", "Is Java purely object oriented?"),
    ("What Is The Best Way To Lose Weight?", "How can I lose weight quickly?"),
    ("How much does YouTube pay per 1000 views?", "How much does youtube pay per 1000 views?"),
    ('What does "carpe diem" mean?', "What does carpe diem mean?"),
    ("Why should I buy an iPhone?", "Why should anyone buy an iphone?"),
    ("How do I reset my password?", "I forgot my password, how do I reset it?"),
    ("Which books explain the Mughal Empire?", "What should I read about the Mughal empire?"),
    ("What are the 10 best films of 2016?", "Which are the ten best movies of 2016?"),
    ("Why do so many people dislike Hillary Clinton?", "Why do people hate Hilary Clinton?"),
    ("Which laptop is best under 30K INR?", "Which laptop is best under INR 30,000?"),
    ("We had a good 1st date, why no text?", "We had a good first date, why no text?"),
    ("What was the Viet Minh?", "Who were the Việt Minh?"),
    ("Is it hard to learn Python?", "Is it difficult to learn Python?"),
    ("How do you stick to your schedule?", "What is the best way to stick with your schedule?"),
    ("What do men and women want from life?", "What do women and men want from life?"),
    (
        "How does it feel to have a successful daughter/son?",
        "How does it feel to have a son/daughter?",
    ),
    ("How can I increase the traffic to my website?", "How to increase my website traffic?"),
    ("How can I lose weight fast?", "How can I lose weight quickly?"),
    ("Is it better to rent or buy a house?", "Is it better to buy or rent a house?"),
    ("Who is taller, Tom or Bob?", "Who is taller, Bob or Tom?"),
    ("¿Es mejor Python o Java?", "¿Es mejor Java o Python?"),
    ("Write a short poem about cats", "Write a brief poem about cats"),
    (
        "Read the text below and write a summary.",
        "Write a summary of the text below after reading it.",
    ),
    ("Write a formal email declining the offer", "Write a professional email declining the offer"),
    ("What is the best way to learn English? I'm Chinese.", "I'm Chinese, how do I learn English?"),
    ("How do I log in to Gmail?", "How can I login to Gmail?"),
    ("What is 2 + 2?", "what is 2+2"),
    ("What is the range of f(x) = sin^-1(x)?", "What is the range of f(x) =sin^-1(x)?"),
    ("How do I use os.path.join?", "How do I use os.path.join in a loop?"),
    ("Python - how do I sort a list?", "Python: how do I sort a list?"),
    ("I rock back and forth - sometimes in circles.", "I rock back & forth, sometimes in circles."),
    (
        RAG.format(question="How long is the warranty?"),
        RAG.format(question="how long is the warranty").upper(),
    ),
    (
        "I run a small bakery and want to sell my bread online. I have no website yet and a "
        "budget of about a thousand dollars. Which platform should I use?",
        "Which platform should I use to sell bread online from my small bakery, with no website "
        "yet and about a thousand dollars to spend?",
    ),
]


@pytest.mark.parametrize(("check", "one", "other"), REFUSED)
def test_each_check_refuses_in_both_directions(check: str, one: str, other: str) -> None:
    guard = PrecisionGuards([check])
    for query, stored in ((one, other), (other, one)):
        reason = guard.check(query, stored)
        assert reason is not None, f"{check} let through {query!r} / {stored!r}"
        assert reason.split(" differ")[0] in {
            "numbers",
            "dates",
            "units",
            "negation",
            "named entities",
            "quoted text",
            "code",
            "alternatives",
            "directions",
            "asks",
            "the rest of a long shared text",
        }
    assert PrecisionGuards([c for c in ALL_CHECKS if c != check]).check(one, one) is None


@pytest.mark.parametrize(("one", "other"), ALLOWED)
def test_paraphrases_are_served(one: str, other: str) -> None:
    guards = PrecisionGuards(ALL_CHECKS)
    assert guards.check(one, other) is None
    assert guards.check(other, one) is None


def test_the_reason_names_the_values_query_first() -> None:
    reason = PrecisionGuards().check("Best phones in 2023?", "Best phones in 2024?")
    assert reason == "dates differ: {2023} vs {2024}"


def test_added_detail_is_not_a_replacement() -> None:
    # A value on one side only is extra detail, not a different question (negation aside).
    guards = PrecisionGuards(["numbers", "dates", "entities"])
    assert guards.check("How do I lose weight?", "How do I lose weight in 2024?") is None
    assert guards.check("Who will win the election?", "Who will win the US election?") is None


def test_only_the_chosen_checks_run() -> None:
    pair = ("How do I learn Java?", "How do I learn Python?")
    assert PrecisionGuards(["numbers", "negation"]).check(*pair) is None
    assert PrecisionGuards(["entities"]).check(*pair) is not None
    assert PrecisionGuards([]).check("Is it safe?", "Is it not safe?") is None
    assert PrecisionGuards().checks == DEFAULT_CHECKS
    assert "negation" in DEFAULT_CHECKS  # on by default: see benchmarks/quality.py
    assert PrecisionGuards(list(reversed(ALL_CHECKS))).checks == ALL_CHECKS  # a fixed order


def test_unknown_checks_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown precision checks \\['colour'\\]"):
        PrecisionGuards(["numbers", "colour"])


def test_identical_texts_always_pass() -> None:
    guards = PrecisionGuards()
    for _, one, other in REFUSED:
        assert guards.check(one, one) is None
        assert guards.check(other, other) is None


def test_a_pair_costs_microseconds(qqp_sample: list[tuple[str, str, bool]]) -> None:
    guards = PrecisionGuards()
    pairs = qqp_sample[:500]
    start = time.perf_counter()
    for a, b, _ in pairs:
        guards.check(b, a)
    per_pair = (time.perf_counter() - start) / len(pairs)
    # 20-40 us on an idle 2-core box with both texts new (benchmarks/quality.py prints it), a few
    # times that under load; the bound only catches a gross regression such as quadratic work.
    assert per_pair < 1e-3, f"{per_pair * 1e6:.0f} us per pair"
