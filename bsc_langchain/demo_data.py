"""The demo's workload, written for this project: questions, paraphrases and near misses.

Each :class:`Group` is one question with rewordings that one answer serves. ``NEAR_MISSES`` are
questions worded like a group's but asking something else (another country, a negation,
another number, another audience, zoom out for zoom in, another tone): a cache that answers one
of them from the wrong group has served a wrong hit.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GROUPS", "NEAR_MISSES", "Group"]


@dataclass(frozen=True, slots=True)
class Group:
    """A question, the rewordings one answer serves, and that answer."""

    key: str
    question: str
    paraphrases: tuple[str, ...]
    answer: str


GROUPS: tuple[Group, ...] = (
    Group(
        "capital-france",
        "What is the capital of France?",
        ("What's the capital city of France?", "Which city is the capital of France?"),
        "Paris is the capital of France.",
    ),
    Group(
        "reset-password",
        "How do I reset my password?",
        ("How can I reset my password?", "I forgot my password. How do I reset it?"),
        "Open Settings > Account > Reset password and follow the e-mail link.",
    ),
    Group(
        "boiling-water",
        "What is the boiling point of water at sea level?",
        (
            "At sea level, what temperature does water boil at?",
            "What temperature does water boil at at sea level?",
        ),
        "100 degrees Celsius (212 degrees Fahrenheit) at standard sea-level pressure.",
    ),
    Group(
        "python-reverse-list",
        "How do I reverse a list in Python?",
        ("How can I reverse a Python list?", "What's the way to reverse a list in Python?"),
        "Use my_list.reverse() in place, or my_list[::-1] for a reversed copy.",
    ),
    Group(
        "photosynthesis",
        "How does photosynthesis work?",
        ("Can you explain how photosynthesis works?", "Explain the process of photosynthesis."),
        "Plants use light energy to turn water and carbon dioxide into glucose and oxygen.",
    ),
    Group(
        "cancel-subscription",
        "How do I cancel my subscription?",
        ("How can I cancel my subscription?", "What are the steps to cancel my subscription?"),
        "Go to Billing > Subscription > Cancel; access lasts until the period ends.",
    ),
    Group(
        "tallest-mountain",
        "What is the tallest mountain in the world?",
        ("Which mountain is the highest in the world?", "What's the world's tallest mountain?"),
        "Mount Everest, 8,849 metres above sea level.",
    ),
    Group(
        "git-undo-commit",
        "How do I undo the last git commit?",
        ("How can I undo my last commit in git?", "How to revert the most recent git commit?"),
        "git reset --soft HEAD~1 keeps the changes staged; git revert HEAD adds an undo commit.",
    ),
    Group(
        "sleep-hours",
        "How many hours of sleep does an adult need?",
        (
            "How much sleep does an adult need each night?",
            "How many hours should an adult sleep?",
        ),
        "Most adults need 7 to 9 hours of sleep a night.",
    ),
    Group(
        "learn-spanish",
        "What is the best way to learn Spanish?",
        (
            "What's the most effective way to learn Spanish?",
            "How should I go about learning Spanish?",
        ),
        "Daily practice with spaced repetition, plus conversation with native speakers.",
    ),
    Group(
        "refund-policy",
        "What is your refund policy?",
        ("What's your policy on refunds?", "Can you tell me about your refund policy?"),
        "Full refund within 30 days of purchase, no questions asked.",
    ),
    Group(
        "speed-of-light",
        "What is the speed of light?",
        ("How fast does light travel?", "What's the speed of light in a vacuum?"),
        "299,792,458 metres per second in a vacuum.",
    ),
    Group(
        "json-parse-js",
        "How do I parse JSON in JavaScript?",
        (
            "How can I parse a JSON string in JavaScript?",
            "What's the way to parse JSON in JavaScript?",
        ),
        "JSON.parse(text) returns the value; wrap it in try/catch for invalid input.",
    ),
    Group(
        "change-email",
        "How do I change the email address on my account?",
        (
            "How can I update the email address on my account?",
            "How do I change my account's email address?",
        ),
        "Settings > Profile > Email, then confirm the new address from your inbox.",
    ),
    Group(
        "dog-chocolate",
        "Is chocolate dangerous for dogs?",
        ("Can chocolate hurt dogs?", "Is it dangerous for a dog to eat chocolate?"),
        "Yes: theobromine in chocolate is toxic to dogs; call a vet if yours ate some.",
    ),
    Group(
        "ww2-end",
        "When did World War II end?",
        ("In what year did World War II end?", "When did the Second World War end?"),
        "1945: in Europe on 8 May, in the Pacific on 2 September.",
    ),
    Group(
        "sql-join",
        "What is the difference between an inner join and a left join in SQL?",
        (
            "What's the difference between inner join and left join in SQL?",
            "How does a left join differ from an inner join in SQL?",
        ),
        "An inner join keeps matching rows only; a left join also keeps unmatched left rows.",
    ),
    Group(
        "vitamin-d",
        "What are good sources of vitamin D?",
        ("Which foods are good sources of vitamin D?", "Where can I get vitamin D from?"),
        "Sunlight, oily fish, egg yolks and fortified foods.",
    ),
    Group(
        "shipping-time",
        "How long does shipping take?",
        ("How long will shipping take?", "How long does delivery usually take?"),
        "Standard shipping takes 3 to 5 business days.",
    ),
    Group(
        "docker-vs-vm",
        "What is the difference between a Docker container and a virtual machine?",
        (
            "How is a Docker container different from a virtual machine?",
            "What's the difference between Docker containers and virtual machines?",
        ),
        "Containers share the host kernel; a virtual machine runs a whole guest OS.",
    ),
    Group(
        "make-cold-brew",
        "How do I make cold brew coffee?",
        ("How can I make cold brew coffee at home?", "What's the way to make cold brew coffee?"),
        "Steep coarse grounds in cold water 1:8 for 12 to 18 hours, then strain.",
    ),
    Group(
        "two-factor",
        "How do I turn on two-factor authentication?",
        (
            "How can I enable two-factor authentication?",
            "How do I set up two-factor authentication?",
        ),
        "Settings > Security > Two-factor authentication, then scan the QR code.",
    ),
    Group(
        "moon-distance",
        "How far is the Moon from the Earth?",
        ("What is the distance from the Earth to the Moon?", "How far away is the Moon?"),
        "About 384,400 km on average.",
    ),
    Group(
        "interest-rates",
        "Why do central banks raise interest rates?",
        (
            "Why do central banks increase interest rates?",
            "What is the reason central banks raise interest rates?",
        ),
        "To cool demand and bring inflation back towards target.",
    ),
    Group(
        "ibuprofen-adults",
        "What is the maximum daily dose of ibuprofen for adults?",
        (
            "What's the maximum daily dose of ibuprofen for an adult?",
            "What is the max daily dose of ibuprofen for adults?",
        ),
        "1,200 mg a day without a doctor's advice; up to 3,200 mg under supervision.",
    ),
    Group(
        "mac-zoom-in",
        "How do I zoom in on a Mac?",
        ("How can I zoom in on my Mac?", "How do you zoom in on a Mac?"),
        "Press Command and + (plus), or pinch out on the trackpad.",
    ),
    Group(
        "email-formal",
        "Rewrite this email in a formal tone: I can't make the meeting tomorrow.",
        ("Please rewrite this email in a formal tone: I can't make the meeting tomorrow.",),
        "I regret that I will be unable to attend tomorrow's meeting.",
    ),
)

NEAR_MISSES: tuple[Group, ...] = (
    Group("capital-spain", "What is the capital of Spain?", (), "Madrid is the capital of Spain."),
    Group(
        "change-password",
        "How do I change my password?",
        (),
        "Settings > Account > Change password; you need the current one.",
    ),
    Group(
        "boiling-everest",
        "What is the boiling point of water on Mount Everest?",
        (),
        "About 70 degrees Celsius, because the air pressure is lower.",
    ),
    Group(
        "python-sort-list",
        "How do I sort a list in Python?",
        (),
        "Use my_list.sort() in place, or sorted(my_list) for a sorted copy.",
    ),
    Group(
        "pause-subscription",
        "How do I pause my subscription?",
        (),
        "Billing > Subscription > Pause, for up to three months.",
    ),
    Group(
        "tallest-building",
        "What is the tallest building in the world?",
        (),
        "The Burj Khalifa in Dubai, 828 metres.",
    ),
    Group(
        "sleep-children",
        "How many hours of sleep does a child need?",
        (),
        "Children of 6 to 12 need 9 to 12 hours a night.",
    ),
    Group(
        "ww1-end",
        "When did World War I end?",
        (),
        "11 November 1918, with the Armistice.",
    ),
    Group(
        "dog-grapes",
        "Are grapes dangerous for dogs?",
        (),
        "Yes: grapes and raisins can cause kidney failure in dogs.",
    ),
    Group(
        "speed-of-sound",
        "What is the speed of sound?",
        (),
        "About 343 metres per second in dry air at 20 degrees Celsius.",
    ),
    Group(
        "interest-rates-cut",
        "Why do central banks cut interest rates?",
        (),
        "To support demand and employment when inflation is low or the economy weakens.",
    ),
    Group(
        "distance-sun",
        "How far is the Sun from the Earth?",
        (),
        "About 150 million km on average.",
    ),
    # Worded so closely that they embed above the threshold: the precision guards refuse them.
    Group(
        "ibuprofen-children",
        "What is the maximum daily dose of ibuprofen for children?",
        (),
        "It depends on weight: 20 to 30 mg per kg a day, in three or four doses.",
    ),
    Group(
        "mac-zoom-out",
        "How do I zoom out on a Mac?",
        (),
        "Press Command and - (minus), or pinch in on the trackpad.",
    ),
    Group(
        "email-casual",
        "Rewrite this email in a casual tone: I can't make the meeting tomorrow.",
        (),
        "Hey, I can't make it to the meeting tomorrow, sorry!",
    ),
)
